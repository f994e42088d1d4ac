"""Every Kafka topic wapipe uses, declared once (design.md §3).

The Faust app builds its topic objects from these specs, ``wapipe topics`` lists them, and the
runtime creates them at start-up (idempotently) so producers never race auto-creation.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import events


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    record: type
    key: str  # what the message key is, for people and for partitioning checks
    compacted: bool = False
    doc: str = ""


INBOUND = TopicSpec("wa.inbound.v1", events.InboundMessage, "customer", doc="customer messages")
STATUS = TopicSpec("wa.status.v1", events.DeliveryReceipt, "customer", doc="delivery receipts")
PURCHASES = TopicSpec("commerce.purchases.v1", events.Purchase, "customer", doc="orders")
COMMANDS = TopicSpec(
    "wa.outbound.commands.v1",
    events.OutboundCommand,
    "business_number_id",
    doc="messages to send; one owner per business number",
)
RESULTS = TopicSpec(
    "wa.outbound.results.v1", events.SendResult, "customer", doc="one outcome per command"
)
TAGS = TopicSpec("customer.tags.v1", events.TagChange, "customer", doc="tag changes")
CONSENT = TopicSpec(
    "customer.consent.v1", events.ConsentChange, "customer", doc="opt-outs and opt-ins"
)
ALARMS = TopicSpec("alarms.v1", events.Alarm, "alarm_id", doc="alarms fired and resolved")
DEADLETTER = TopicSpec(
    "pipeline.deadletter.v1", events.DeadLetter, "source", doc="refused input, with reason"
)
CAMPAIGNS = TopicSpec(
    "campaigns.control.v1",
    events.CampaignControl,
    "campaign_id",
    doc="campaign launch/pause/resume; consumers read every partition",
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    INBOUND,
    STATUS,
    PURCHASES,
    COMMANDS,
    RESULTS,
    TAGS,
    CONSENT,
    ALARMS,
    DEADLETTER,
    CAMPAIGNS,
)

#: Topics whose key is the customer: they must share one partition count so that one worker
#: sees a customer's whole history without a repartition step (design.md §3a).
CUSTOMER_KEYED: tuple[TopicSpec, ...] = tuple(t for t in ALL_TOPICS if t.key == "customer")


def spec_for(name: str) -> TopicSpec:
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown topic {name!r}; declared topics: {[t.name for t in ALL_TOPICS]}")
