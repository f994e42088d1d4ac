"""Role ``campaigns``: a launch on campaigns.control.v1 → outbound commands (issue 8).

    customer.tags.v1       ┐ customer-keyed, co-partitioned
    wa.inbound.v1          │
    wa.outbound.results.v1 ├─► fold_audience ─► table campaign-audience (customer → tags, name,
    commerce.purchases.v1  ┘                    last inbound, last marketing, value, place)
    campaigns.control.v1 (a launch is published to EVERY partition, see publish_control)
        └─► expand_launches: the launch read on partition p expands over the customers whose
            key hashes to p (murmur2, the producers' partitioner) ─► wa.outbound.commands.v1

Why its own table instead of the engagement agent's: that table's layout is that agent's
business; this one keeps only what expansion needs and is fed from the same topics, so it is
co-partitioned with them and writes stay inside agents processing events (Faust's rule).

Semantics:
* A launch un-pauses the campaign (as the sender's CampaignPauses do); pause and resume are
  enforced by the sender on commands already expanded.
* Each partition gets ``budget / partitions`` of the budget (pipeline/campaigns/budget.py).
* A redelivered launch (crash before the commit) expands again to the same command ids; the
  sender's idempotency drops the duplicates.
* Expansion runs in a thread, so the event loop keeps heartbeating during a large launch.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import faust
import structlog
from confluent_kafka import KafkaException, Producer

from pipeline import topics
from pipeline.agents.state_codec import use_utf8_keys
from pipeline.app import WapipeApp
from pipeline.campaigns.audience import AudienceRow, fold
from pipeline.campaigns.budget import budget_share_micros
from pipeline.campaigns.errors import CampaignError, CampaignSpecError
from pipeline.campaigns.expansion import Expansion, expand
from pipeline.campaigns.partitions import PartitionIndex
from pipeline.campaigns.spec import CampaignSpec
from pipeline.errors import BrokerUnavailable
from pipeline.events import CampaignControl
from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS
from pipeline.schemas.codec import AvroEventCodec

log = structlog.get_logger(__name__)

AUDIENCE_SOURCES = (topics.TAGS, topics.INBOUND, topics.RESULTS, topics.PURCHASES)
TABLE = "campaign-audience"


def register(wapp: WapipeApp) -> None:
    app, settings = wapp.app, wapp.settings
    partitions = settings.kafka_partitions
    audience = app.Table(
        TABLE,
        default=None,
        partitions=partitions,
        # Keys go to the partition the producers put them in, so a key's changelog partition
        # is its source partition (as in the engagement agent).
        use_partitioner=True,
        schema=faust.Schema(key_type=str, key_serializer="utf8", value_serializer="json"),
    )
    use_utf8_keys(audience)  # the partitioner must hash the key the producers hashed
    source = app.topic(
        *(spec.name for spec in AUDIENCE_SOURCES), key_serializer="utf8", value_serializer="avro"
    )
    commands_out = wapp.topic(topics.COMMANDS)
    partition_of = PartitionIndex(partitions)
    wapp.extras["campaign_audience"] = audience
    launched: dict[str, Expansion] = {}  # f"{campaign}@{partition}" → result, for tests/ops
    wapp.extras["campaign_expansions"] = launched

    @app.agent(source, name="campaign-audience")
    async def fold_audience(stream: faust.StreamT[Any]) -> None:
        async for event in stream:
            customer = getattr(event, "customer", None)
            if not isinstance(customer, str):
                continue
            stored = audience.get(customer)
            before = AudienceRow.from_json(customer, stored) if stored is not None else None
            after = fold(before, event)
            if after != before:
                audience[customer] = after.to_json()

    @app.agent(wapp.topic(topics.CAMPAIGNS), name="campaign-launches")
    async def expand_launches(stream: faust.StreamT[CampaignControl]) -> None:
        async for event in stream.events():
            control = event.value
            if control.action != "launch":
                continue  # pause/resume: the sender holds or releases expanded commands
            partition = event.message.partition
            try:
                spec = CampaignSpec.from_json(control.spec_json or "")
            except CampaignSpecError as exc:
                log.error("campaign.bad_spec", campaign=control.campaign_id, error=str(exc))
                continue
            owned = [
                AudienceRow.from_json(key, value).customer
                for key, value in list(audience.items())
                if value is not None and partition_of.of(key) == partition
            ]
            expansion = partial(
                expand,
                spec,
                owned,
                control.ts_ms,
                budget_micros=budget_share_micros(spec.budget_micros, partitions=partitions),
            )
            result = await asyncio.get_running_loop().run_in_executor(None, expansion)
            for command in result.commands:
                # Buffered: Faust flushes the producer before it commits the launch's offset.
                commands_out.send_soon(key=command.business_number_id, value=command)
            launched[f"{spec.id}@{partition}"] = result
            log.info(
                "campaign.expanded",
                campaign=spec.id,
                partition=partition,
                customers=len(owned),
                audience=result.audience,
                commands=len(result.commands),
                skipped=dict(result.skipped),
                cost_micros=result.estimated_cost_micros,
            )

    @app.page("/campaigns/audience")
    async def audience_page(web: Any, request: Any) -> Any:
        """How many customers this worker could expand a launch over, and the last launches."""
        return web.json(
            {
                "customers": len(audience),
                "expansions": {
                    key: {"audience": r.audience, "commands": len(r.commands)}
                    for key, r in launched.items()
                },
            }
        )

    _ = (fold_audience, expand_launches, audience_page)


def launch_control(spec: CampaignSpec, *, event_id: str, ts_ms: int) -> CampaignControl:
    return CampaignControl(
        event_id=event_id,
        campaign_id=spec.id,
        action="launch",
        spec_json=spec.to_json(),
        ts_ms=ts_ms,
    )


def publish_control(bootstrap: str, control: CampaignControl, *, timeout_s: float = 30.0) -> int:
    """Publish ``control`` to every partition of campaigns.control.v1; return how many.

    Explicit partitions, not the key: each worker's agent must see a launch on each partition
    it owns. Use it for pause and resume too, so every worker sees them.
    """
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "log_level": 0,
            **CONFLUENT_PRODUCER_DEFAULTS,
        }
    )
    name = topics.CAMPAIGNS.name
    try:
        metadata = producer.list_topics(name, timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailable(f"cannot reach the broker at {bootstrap}: {exc}") from None
    topic = metadata.topics.get(name)
    if topic is None or topic.error is not None or not topic.partitions:
        raise CampaignError(
            f"topic {name} does not exist on {bootstrap}: start the pipeline (`wapipe run`) "
            "first, it creates its topics"
        )
    value = AvroEventCodec().encode(control)
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for partition in sorted(topic.partitions):
        producer.produce(
            name,
            key=control.campaign_id.encode(),
            value=value,
            partition=partition,
            on_delivery=delivered,
        )
    remaining = producer.flush(timeout_s)
    if remaining or failures:
        raise BrokerUnavailable(
            f"{remaining} of {len(topic.partitions)} partitions not acknowledged "
            f"({failures[:1]}); publishing again is safe (expansion is idempotent)"
        )
    return len(topic.partitions)


__all__ = ["AUDIENCE_SOURCES", "TABLE", "launch_control", "publish_control", "register"]
