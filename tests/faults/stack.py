"""The embedded stack under fault: a Tansu broker, the sandbox in its own process and a
``wapipe run`` worker subprocess that can be SIGKILLed and restarted on the same port and
data directory (so its chDB and its web address survive it)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipeline import topics
from pipeline.runtime.broker import EmbeddedBroker, free_port
from pipeline.runtime.kafka_admin import ensure_topics
from pipeline.sandbox import BehaviourRates, PopulationSpec, SandboxConfig
from pipeline.topics import ALL_TOPICS
from tests.agents.conftest import NO_TIMER
from tests.agents.streams import read_all
from tests.agents.world import final_tags
from tests.faults.feeder import wait_until
from tests.faults.mixed_stream import APP_SECRET, PURCHASES_KEY, MixedStream
from tests.faults.scale import fault_scale
from tests.sender.harness import SandboxThread, produce_commands
from tests.support.workers import WorkerProcess

PARTITIONS = 4
FULL_ROLES = "ingest,sink,sql,engagement,sender"


def quiet_sandbox(**changes: Any) -> SandboxConfig:
    """A sandbox whose customers receive but never answer, buy or stop marketing: the only
    webhooks it sends (when given a callback URL) are delivery statuses."""
    rates = BehaviourRates(
        reply_rate_utility=0.0,
        reply_rate_marketing=0.0,
        reply_rate_service=0.0,
        conversion_rate=0.0,
        marketing_stop_rate=0.0,
        inbound_per_customer_day=0.0,
    )
    population = PopulationSpec(unreachable_share=0.0, marketing_stopped_share=0.0)
    return SandboxConfig(
        record_max_requests=1_000_000, behaviour=rates, population=population, **changes
    )


class FaultStack:
    def __init__(
        self,
        tmp_path: Path,
        *,
        roles: str = FULL_ROLES,
        sandbox: SandboxConfig | None = None,
        api_base_url_for: Callable[[str], str] | None = None,
        env: dict[str, str] | None = None,
        query: Callable[[str], list[list[Any]]] | None = None,
        status_webhooks: bool = False,
    ) -> None:
        """``status_webhooks``: the sandbox posts delivery statuses to the worker, as Meta
        does (the sender's evidence for a send whose answer it never saw)."""
        self.web_port = free_port()
        self.broker = EmbeddedBroker()
        self.bootstrap = self.broker.start()
        ensure_topics(self.bootstrap, ALL_TOPICS, partitions=PARTITIONS, replication=1)
        if sandbox is None:
            callback = f"http://127.0.0.1:{self.web_port}/webhooks/whatsapp"
            sandbox = quiet_sandbox(
                callback_url=callback if status_webhooks else None, app_secret=APP_SECRET
            )
        self.sandbox = SandboxThread(sandbox)
        self.app_id = f"faults-{uuid.uuid4().hex[:8]}"
        self.env = {
            **NO_TIMER,
            "WAPIPE_LOG_LEVEL": "warning",
            "WAPIPE_WHATSAPP_APP_SECRET": APP_SECRET,
            "WAPIPE_PURCHASES_API_KEY": PURCHASES_KEY,
            "WAPIPE_WHATSAPP_API_BASE_URL": (
                api_base_url_for(self.sandbox.base_url)
                if api_base_url_for
                else self.sandbox.base_url
            ),
            # Long enough for a late-answered send's "sent" status to come back through
            # ingest and Kafka (test_sandbox_late_answers), short enough for fast restarts;
            # at full size see FaultScale.evidence_wait_s.
            "WAPIPE_SENDER_CRASH_EVIDENCE_WAIT_S": f"{fault_scale().evidence_wait_s:g}",
            "WAPIPE_INGEST_ACK_TIMEOUT_S": "2",
            **(env or {}),
        }
        self.roles = roles
        self.data_dir = tmp_path / "worker"
        self.query = query
        self.worker = self._new_worker(web_port=self.web_port)
        self.restarts = 0

    def _new_worker(self, *, web_port: int) -> WorkerProcess:
        worker = WorkerProcess(
            bootstrap=self.bootstrap,
            data_dir=self.data_dir,
            app_id=self.app_id,
            roles=self.roles,
            env=self.env,
            partitions=PARTITIONS,
        )
        worker.pin_port(web_port)  # one address for every restart: Meta keeps one URL
        return worker

    @property
    def url(self) -> str:
        return self.worker.url

    def start(self) -> FaultStack:
        self.worker.start(timeout_s=90)
        return self

    def kill_and_restart(self) -> None:
        self.worker.kill()
        self.worker = self._new_worker(web_port=self.worker.web_port)
        self.worker.start(timeout_s=90)
        self.restarts += 1

    def send(self, stream: MixedStream) -> None:
        produce_commands(self.bootstrap, stream.commands)

    def sql(self, statement: str) -> list[list[Any]]:
        if self.query is not None:
            return self.query(statement)
        response = httpx.post(self.url + "/sql", content=statement.encode(), timeout=60)
        response.raise_for_status()
        rows: list[list[Any]] = response.json()["rows"]
        return rows

    def close(self) -> None:
        self.worker.stop(timeout_s=20)
        self.sandbox.stop()
        self.broker.stop()


@dataclass(frozen=True, slots=True)
class Counts:
    """What a scenario ends with; printed so a run's figures can be read off the log."""

    scenario: str
    posts: int
    answers: dict[str, int]
    events_accepted: int
    rows_stored: int  # physical rows before deduplication: redeliveries show here
    rows_distinct: int
    commands: int
    results: int
    outcomes: dict[str, int]
    sends_accepted_by_api: int
    tagged_customers: int
    restarts: int

    def show(self) -> None:
        print(f"\n[faults] {self.scenario}: " + ", ".join(f"{k}={v}" for k, v in self._pairs()))

    def _pairs(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.__slots__ if k != "scenario"]


def _ids(stack: FaultStack, table: str, column: str) -> tuple[Counter[str], int]:
    final = Counter(str(r[0]) for r in stack.sql(f"SELECT {column} FROM {table} FINAL"))
    raw = int(stack.sql(f"SELECT count() FROM {table}")[0][0])
    return final, raw


def verify(
    stack: FaultStack,
    stream: MixedStream,
    *,
    scenario: str,
    answers: dict[str, int],
    timeout_s: float,
) -> Counts:
    """Every accepted event in ClickHouse exactly once, one SendResult per command, no
    customer messaged twice, tags as an undisturbed run's."""
    tables = (
        ("inbound_messages", "event_id", stream.inbound_ids),
        ("message_status", "event_id", stream.status_ids),
        ("purchases", "order_id", stream.order_ids),
    )
    command_ids = {c.command_id for c in stream.commands}

    def stored() -> bool:
        have = all(expected <= set(_ids(stack, t, c)[0]) for t, c, expected in tables)
        results = _ids(stack, "outbound_messages", "command_id")[0]
        return have and command_ids <= set(results)

    wait_until(stored, timeout_s=timeout_s, what="every accepted event and result in ClickHouse")

    rows_stored = rows_distinct = 0
    for table, column, expected in tables:
        final, raw = _ids(stack, table, column)
        mine = {k: n for k, n in final.items() if k in expected}
        assert set(mine) == expected, f"{table}: missing {sorted(expected - set(mine))[:5]}"
        assert max(mine.values(), default=1) == 1, f"{table}: {final.most_common(3)} twice"
        rows_stored += raw
        rows_distinct += len(mine)

    results = [r for r in read_all(stack.bootstrap, topics.RESULTS, partitions=PARTITIONS)]
    per_command = Counter(r.command_id for r in results if r.command_id in command_ids)
    assert set(per_command) == command_ids, "a command has no SendResult"
    twice = [c for c, n in per_command.items() if n > 1]
    assert not twice, f"commands with more than one SendResult: {twice[:5]}"
    stored_results, _ = _ids(stack, "outbound_messages", "command_id")
    assert all(stored_results[c] == 1 for c in command_ids)

    requests = [r for r in stack.sandbox.requests(accepted=True)]
    per_customer = Counter(r.wa_id for r in requests)
    assert max(per_customer.values(), default=1) == 1, (
        f"customers messaged twice: {[c for c, n in per_customer.items() if n > 1][:5]}"
    )
    by_command = {r.biz_opaque_callback_data: r.wamid for r in requests}
    for result in results:
        if result.outcome == "accepted":
            assert by_command.get(result.command_id) == result.wamid, result
    unsent = {r.command_id for r in results if r.outcome != "accepted"} & set(by_command)
    assert not unsent, f"sent, but the result says otherwise: {sorted(unsent)[:5]}"

    expected_tags = stream.expected_tags()
    deadline = time.monotonic() + timeout_s
    while (tags := _tags_of(_final_tags(stack), expected_tags)) != expected_tags:
        if time.monotonic() > deadline:
            wrong = {c: (tags[c], want) for c, want in expected_tags.items() if tags[c] != want}
            raise AssertionError(
                f"{len(wrong)} customers' tags (got, want): {list(wrong.items())[:3]}"
            )
        time.sleep(0.5)
    counts = Counts(
        scenario=scenario,
        posts=len(stream.posts),
        answers=answers,
        events_accepted=stream.event_count,
        rows_stored=rows_stored,
        rows_distinct=rows_distinct,
        commands=len(command_ids),
        results=sum(per_command.values()),
        outcomes=dict(Counter(r.outcome for r in results)),
        sends_accepted_by_api=len(requests),
        tagged_customers=len(expected_tags),
        restarts=stack.restarts,
    )
    counts.show()
    return counts


def _final_tags(stack: FaultStack) -> dict[str, frozenset[str]]:
    changes = read_all(stack.bootstrap, topics.TAGS, partitions=PARTITIONS)
    # A change republished after a crash carries the same event id: count it once.
    seen: set[str] = set()
    first = []
    for change in changes:
        if change.event_id not in seen:
            seen.add(change.event_id)
            first.append(change)
    return final_tags(first)


def _tags_of(
    tags: dict[str, frozenset[str]], expected: dict[str, frozenset[str]]
) -> dict[str, frozenset[str]]:
    return {c: tags.get(c, frozenset()) for c in expected}
