"""Nothing is dropped silently: refused input goes to ``pipeline.deadletter.v1`` with a reason."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import structlog

from pipeline.events import DeadLetter
from pipeline.topics import DEADLETTER

if TYPE_CHECKING:
    from pipeline.app import WapipeApp

log = structlog.get_logger(__name__)


def make_dead_letter(*, source: str, reason: str, raw: bytes, ts_ms: int) -> DeadLetter:
    return DeadLetter(
        event_id=str(uuid.uuid4()), source=source, reason=reason, raw=raw, ts_ms=ts_ms
    )


async def dead_letter(wapp: WapipeApp, *, source: str, reason: str, raw: bytes) -> None:
    """Send one dead letter and wait for the broker's ack."""
    letter = make_dead_letter(source=source, reason=reason, raw=raw, ts_ms=wapp.clock.now_ms())
    log.warning("deadletter", source=source, reason=reason, bytes=len(raw))
    fut = await wapp.topic(DEADLETTER).send(key=source, value=letter)
    await fut
