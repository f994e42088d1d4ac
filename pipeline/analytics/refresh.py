"""Keep attributed_facts and funnel_counts current: re-attribute the customers that changed.

Migration 007 explains the tables; this module is the job that fills them. One run::

    run_id = ClickHouse's clock (Unix µs), just before anything is read
    customers = those changed since the previous run, plus those whose change window has
                just settled (see :func:`dirty_windows`); every customer on the first run
    facts     = every message of those customers, attributed, written with a new version
    counts    = every funnel group holding one of those messages, recounted
    record the run (the next one starts from its run_id)

Runs are idempotent (rows replace rows by version), so a crash only means the next run
repeats the work. The worker that owns the store runs one every
``attribution_refresh_seconds``; tests and the bench call :func:`refresh_attribution`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from pipeline.runtime.store import Store

log = structlog.get_logger(__name__)

#: infra/clickhouse/refresh in the source tree.
REFRESH_SQL_DIR = Path(__file__).resolve().parents[2] / "infra" / "clickhouse" / "refresh"

#: An insert slower than this could commit after a run read the tables yet carry a
#: changed_ms the run already passed; the settle pass re-reads every change this old.
DEFAULT_SETTLE_MS = 60_000

#: attribution_dirty keeps 7 days (its TTL); older than this, the job rebuilds everything.
CHANGE_LOG_TRUST_MS = 6 * 86_400_000

_NEVER_MS = 2**62  # an upper bound later than any changed_ms


@dataclass(frozen=True, kw_only=True, slots=True)
class DirtyWindows:
    """Two half-open ranges ``(after, until]`` of changed_ms a run re-attributes."""

    after_ms: int
    until_ms: int
    settle_from_ms: int
    settle_to_ms: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RefreshOutcome:
    run_id: int
    full_rebuild: bool
    customers: int
    facts: int
    groups: int
    elapsed_s: float


def dirty_windows(*, previous_start_ms: int, start_ms: int, settle_ms: int) -> DirtyWindows:
    """The changes a run starting at ``start_ms`` re-attributes, after one at previous_start_ms.

    First window: everything newer than the previous run's start (fresh changes). Second: the
    changes that became ``settle_ms`` old since the previous run. Consecutive runs' second
    windows tile the time line, so a change whose insert committed late, after a run had read
    the tables, is still read once it has settled.
    """
    return DirtyWindows(
        after_ms=previous_start_ms,
        until_ms=_NEVER_MS,
        settle_from_ms=previous_start_ms - settle_ms,
        settle_to_ms=start_ms - settle_ms,
    )


def _sql(name: str) -> str:
    return (REFRESH_SQL_DIR / f"{name}.sql").read_text()


def _clock_us(store: Store) -> int:
    """ClickHouse's clock: every worker's runs are ordered by the same clock."""
    return int(store.query("SELECT toUnixTimestamp64Micro(now64(6))").scalar())


def refresh_attribution(
    store: Store, *, settle_ms: int = DEFAULT_SETTLE_MS, full_rebuild: bool = False
) -> RefreshOutcome:
    """One run of the job; ``full_rebuild`` re-attributes every customer."""
    started = time.perf_counter()
    previous = store.query("SELECT max(run_id), count() FROM attribution_refreshes").rows[0]
    run_id = _clock_us(store)
    start_ms = run_id // 1000
    previous_start_ms = int(previous[0]) // 1000 if previous[1] else None
    full = (
        full_rebuild
        or previous_start_ms is None
        or start_ms - previous_start_ms > CHANGE_LOG_TRUST_MS
    )
    if full or previous_start_ms is None:
        store.command(_sql("batch_all"), {"run_id": run_id})
    else:
        windows = dirty_windows(
            previous_start_ms=previous_start_ms, start_ms=start_ms, settle_ms=settle_ms
        )
        store.command(
            _sql("batch_changed"),
            {
                "run_id": run_id,
                "after_ms": windows.after_ms,
                "until_ms": windows.until_ms,
                "settle_from_ms": windows.settle_from_ms,
                "settle_to_ms": windows.settle_to_ms,
            },
        )
    customers = int(
        store.query(
            "SELECT count() FROM attribution_batch WHERE run_id = {run_id:UInt64}",
            {"run_id": run_id},
        ).scalar()
    )
    facts = groups = 0
    if customers:
        # Each version is taken just before the read it labels: the row of the read that
        # started last wins, and that read saw every row committed before it started.
        facts_version = _clock_us(store)
        store.command(_sql("attributed_facts"), {"run_id": run_id, "version": facts_version})
        facts = _count(store, "attributed_facts", facts_version)
        counts_version = _clock_us(store)
        store.command(
            _sql("funnel_counts"), {"version": counts_version, "facts_version": facts_version}
        )
        groups = _count(store, "funnel_counts", counts_version)
    elapsed_s = time.perf_counter() - started
    store.command(
        "INSERT INTO attribution_refreshes "
        "(run_id, full_rebuild, customers, facts, groups, elapsed_ms) VALUES "
        "({run_id:UInt64}, {full:Bool}, {customers:UInt64}, {facts:UInt64}, {groups:UInt64}, "
        "{elapsed_ms:UInt64})",
        {
            "run_id": run_id,
            "full": full,
            "customers": customers,
            "facts": facts,
            "groups": groups,
            "elapsed_ms": int(elapsed_s * 1000),
        },
    )
    outcome = RefreshOutcome(
        run_id=run_id,
        full_rebuild=full,
        customers=customers,
        facts=facts,
        groups=groups,
        elapsed_s=elapsed_s,
    )
    log.info(
        "attribution.refreshed",
        full_rebuild=full,
        customers=customers,
        facts=facts,
        groups=groups,
        elapsed_s=round(elapsed_s, 3),
    )
    return outcome


def _count(store: Store, table: str, version: int) -> int:
    # table is one of this module's two constants, never caller input.
    return int(
        store.query(
            f"SELECT count() FROM {table} WHERE version = {{version:UInt64}}", {"version": version}
        ).scalar()
    )
