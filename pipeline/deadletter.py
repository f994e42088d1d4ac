"""Nothing is dropped silently: refused input goes to ``pipeline.deadletter.v1`` with a reason.

Producers differ (the ingest views send through Faust, the sink and the importer through
confluent-kafka), so this module only builds the record; each sends it its own way.
"""

from __future__ import annotations

import uuid

from pipeline.events import DeadLetter


def make_dead_letter(*, source: str, reason: str, raw: bytes, ts_ms: int) -> DeadLetter:
    return DeadLetter(
        event_id=str(uuid.uuid4()), source=source, reason=reason, raw=raw, ts_ms=ts_ms
    )
