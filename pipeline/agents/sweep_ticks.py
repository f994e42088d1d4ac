"""Sweep ticks: how time-driven changes reach agents that own the state (issue 6).

Faust allows table writes only while an agent processes an event, so a timer cannot decay a
tag or fire an SLA alarm itself. Instead a timer on each worker sends one :class:`SweepTick`
per partition it owns to an internal, co-partitioned topic, carrying the injectable clock's
time (``wapp.clock``, so tests move time by hand). The agents that own the state consume the
ticks like any other event and judge their customers at that time. Ticks are in the log, so a
replay sees them too; an agent's judging time only moves forward, so a redelivered or stale
tick changes nothing.
"""

from __future__ import annotations

import faust
import structlog

from pipeline.app import WapipeApp

log = structlog.get_logger(__name__)

_EXTRA = "sweep_ticks"


class SweepTick(faust.Record, serializer="json"):
    ts_ms: int


def sweep_ticks(wapp: WapipeApp) -> faust.TopicT:
    """The tick topic of this app, with its timer (created once, shared by every sweeping agent)."""
    existing = wapp.extras.get(_EXTRA)
    if existing is not None:
        return existing
    app = wapp.app
    topic = app.topic(
        f"{wapp.settings.app_id}-sweep-ticks",
        key_type=str,
        value_type=SweepTick,
        key_serializer="utf8",
        value_serializer="json",
        partitions=wapp.settings.kafka_partitions,
        internal=True,
    )
    wapp.extras[_EXTRA] = topic

    @app.timer(wapp.settings.engagement_sweep_s, name="sweep-ticks")
    async def send_sweep_ticks() -> None:
        now_ms = wapp.clock.now_ms()  # read on every tick: tests swap in a ManualClock
        owned = sorted(
            tp.partition
            for tp in app.assignor.assigned_actives()
            if tp.topic == topic.get_topic_name()
        )
        for partition in owned:
            await topic.send(key=str(partition), value=SweepTick(ts_ms=now_ms), partition=partition)
        if owned:
            log.debug("sweep.ticks_sent", partitions=len(owned), now_ms=now_ms)

    return topic


__all__ = ["SweepTick", "sweep_ticks"]
