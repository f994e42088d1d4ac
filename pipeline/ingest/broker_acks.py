"""Produce a request's records and wait until the broker acknowledged every one.

An HTTP 200 tells Meta (or a shop) that the data is ours; it must not be said before the
broker has it (issue 3: "nothing accepted is ever lost"). All records are sent first and the
acks gathered afterwards, so one POST costs one round of broker latency, not one per record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError

from pipeline import topics
from pipeline.deadletter import make_dead_letter
from pipeline.errors import BrokerUnavailable, SchemaError
from pipeline.ingest.webhook_parser import Outgoing

if TYPE_CHECKING:
    from pipeline.app import WapipeApp

log = structlog.get_logger(__name__)


async def _send_all(wapp: WapipeApp, records: Iterable[Outgoing], *, source: str) -> int:
    pending = []
    unencodable = 0
    for record in records:
        try:
            pending.append(await wapp.topic(record.topic).send(key=record.key, value=record.event))
        except SchemaError as exc:
            # The parsers check every field, so this is a bug; keep the record, not the POST.
            unencodable += 1
            letter = make_dead_letter(
                source=source,
                reason=f"cannot encode {type(record.event).__name__}: {exc}",
                raw=repr(record.event).encode("utf-8", "replace"),
                ts_ms=wapp.clock.now_ms(),
            )
            log.error("ingest.unencodable", record=type(record.event).__name__, error=str(exc))
            pending.append(await wapp.topic(topics.DEADLETTER).send(key=source, value=letter))
    await asyncio.gather(*pending)
    return unencodable


async def produce_acked(
    wapp: WapipeApp, records: Iterable[Outgoing], *, source: str, timeout_s: float
) -> int:
    """Send ``records``; return once all are acked (the count turned into dead letters).

    Raises :class:`BrokerUnavailable` when the acks do not arrive within ``timeout_s``; the
    caller answers 503 and the sender retries (ids are stable, so the retry deduplicates).
    """
    try:
        return await asyncio.wait_for(_send_all(wapp, records, source=source), timeout_s)
    except TimeoutError:
        raise BrokerUnavailable(
            f"the broker did not acknowledge within {timeout_s:g}s; retry later"
        ) from None
    except (KafkaError, ProducerSendError) as exc:  # aiokafka gave up on its own retries
        raise BrokerUnavailable(f"the broker refused the records ({exc}); retry later") from exc
