"""Campaigns to segments, as pure functions (issue 8): no Faust, no Kafka, no clock.

A campaign file (:mod:`.spec`) names a template, a segment expression over engagement tags
(:mod:`.segments`), send windows, an optional budget and A/B variants. :func:`expand` turns it
and the customers one worker owns into outbound commands, through the sender's own gate.
The agent in ``pipeline/agents/campaigns.py`` runs it on every partition; ``wapipe campaign
estimate`` uses :mod:`.estimate` to predict audience, cost and funnel without sending.

Modules, one concept each:
    errors       CampaignError, CampaignSpecError, SegmentSyntaxError
    segments     tag expressions: parser with positioned errors, printer, evaluation
    parameters   template parameters filled from customer fields
    spec         CampaignSpec from YAML / JSON, variants and their stable split
    identity     command ids and A/B buckets from BLAKE2b(campaign, customer)
    audience     CampaignCustomer: what expansion knows about one customer
    local_time   a customer's country and zone, resolved once; send windows per zone
    budget       the budget cap and a partition's share of it
    expansion    spec × customers → OutboundCommands
    partitions   which partition of a customer-keyed topic holds a customer
    estimate     audience size, cost and expected funnel of a campaign, before sending
"""

from __future__ import annotations

from pipeline.campaigns.audience import CampaignCustomer
from pipeline.campaigns.errors import CampaignError, CampaignSpecError, SegmentSyntaxError
from pipeline.campaigns.expansion import BUDGET, Expansion, expand
from pipeline.campaigns.identity import bucket_of, command_id_for
from pipeline.campaigns.local_time import CustomerPlace, place_of
from pipeline.campaigns.segments import Segment, compile_segment, parse_segment, to_text
from pipeline.campaigns.spec import CampaignSpec, TemplateRef, Variant, load_spec

__all__ = [
    "BUDGET",
    "CampaignCustomer",
    "CampaignError",
    "CampaignSpec",
    "CampaignSpecError",
    "CustomerPlace",
    "Expansion",
    "Segment",
    "SegmentSyntaxError",
    "TemplateRef",
    "Variant",
    "bucket_of",
    "command_id_for",
    "compile_segment",
    "expand",
    "load_spec",
    "parse_segment",
    "place_of",
    "to_text",
]
