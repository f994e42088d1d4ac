"""A crash at an exact point of a command's life, without processes: the sender's ledger and
publisher are stand-ins that record what reached "the broker" and stop the command dead where a
SIGKILL would. The restarted sender then gets the redelivered copy. The SIGKILL tests cover the
same ground with real processes, but cannot choose where the kill lands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from pipeline.clock import ManualClock
from pipeline.events import ConsentChange, OutboundCommand, SendResult
from pipeline.settings import Settings
from pipeline.sinks.cloud_api import CloudApiClient
from pipeline.sinks.command_ledger import DONE, FINISHING
from pipeline.sinks.replicated_views import CampaignPauses, ConsentView
from pipeline.sinks.send_evidence import SendEvidence
from pipeline.sinks.sender import Sender
from pipeline.sinks.sender_config import SenderConfig
from tests.sender.harness import command

NOW_MS = 1_800_000_000_000


class Killed(BaseException):
    """The worker died here (a BaseException, so no handler in the sender catches it)."""


async def _acked() -> None:
    return None


class Broker:
    """What survived: ledger records and SendResults, in the order they were acknowledged."""

    def __init__(self) -> None:
        self.ledger: dict[str, dict[str, Any]] = {}
        self.results: list[SendResult] = []


class Ledger:
    """CommandLedger and DeferralBook in memory; ``kill_at_state`` dies before that write."""

    def __init__(self, broker: Broker, *, kill_at_state: str | None = None) -> None:
        self._broker = broker
        self._data = dict(broker.ledger)  # a restart recovers the table from the changelog
        self._kill_at_state = kill_at_state

    def get(self, key: str) -> dict[str, Any] | None:
        return self._data.get(key)

    def state(self, key: str) -> str | None:
        entry = self._data.get(key)
        return None if entry is None else str(entry["state"])

    def attempts(self, key: str) -> int:
        return int((self._data.get(key) or {}).get("attempts", 0))

    async def put(self, key: str, value: dict[str, Any], *, partition: int) -> Awaitable[None]:
        if value.get("state") == self._kill_at_state:
            raise Killed
        self._data[key] = value
        self._broker.ledger[key] = value
        return _acked()

    async def delete(self, key: str, *, partition: int) -> Awaitable[None]:
        self._data.pop(key, None)
        self._broker.ledger.pop(key, None)
        return _acked()


class Publisher:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def result(self, result: SendResult) -> Awaitable[None]:
        self._broker.results.append(result)
        return _acked()

    async def consent(self, change: ConsentChange) -> Awaitable[None]:
        return _acked()

    async def command(self, command: OutboundCommand, *, partition: int) -> Awaitable[None]:
        return _acked()


class ResultsTopic:
    """PublishedResults over the stand-in broker."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def published(self, command_id: str, *, since_ms: int) -> bool:
        return any(r.command_id == command_id for r in self._broker.results)


def sender(broker: Broker, *, kill_at_state: str | None = None) -> Sender:
    config = SenderConfig.from_settings(
        Settings(whatsapp_api_base_url="http://127.0.0.1:9", whatsapp_rate_per_s=50)
    )
    ledger = Ledger(broker, kill_at_state=kill_at_state)
    return Sender(
        config=config,
        client=CloudApiClient(config),
        ledger=ledger,  # type: ignore[arg-type]
        deferrals=ledger,  # type: ignore[arg-type]
        consent=ConsentView(),
        pauses=CampaignPauses(),
        evidence=SendEvidence(),
        publisher=Publisher(broker),
        clock=ManualClock(NOW_MS),
        results=ResultsTopic(broker),  # type: ignore[arg-type]
    )


async def deliver(s: Sender, cmd: OutboundCommand) -> bool:
    """Hand ``cmd`` to ``s`` and wait for its task; whether its offset was acknowledged."""
    acked = asyncio.Event()

    async def ack() -> None:
        acked.set()

    await s.admit(cmd, partition=0, ack=ack)
    for _ in range(500):
        if s.pending == 0:
            break
        await asyncio.sleep(0.01)
    await s.close()
    return acked.is_set()


def expired_command() -> OutboundCommand:
    return command("821000000001", expires_at_ms=NOW_MS - 1)


async def test_a_skip_killed_between_its_result_and_done_mark_gets_no_second_result() -> None:
    broker = Broker()
    cmd = expired_command()
    assert not await deliver(sender(broker, kill_at_state=DONE), cmd)
    assert [r.outcome for r in broker.results] == ["expired"]
    assert broker.ledger[cmd.command_id]["state"] == FINISHING

    assert await deliver(sender(broker), cmd)  # the redelivered copy, after the restart
    assert [r.outcome for r in broker.results] == ["expired"]
    assert broker.ledger[cmd.command_id]["state"] == DONE


async def test_a_skip_killed_before_its_result_is_gated_again_and_gets_one() -> None:
    broker = Broker()
    cmd = expired_command()
    killed = sender(broker)
    killed.publisher = _KilledPublisher(broker)
    assert not await deliver(killed, cmd)
    assert broker.results == []
    assert broker.ledger[cmd.command_id]["state"] == FINISHING

    assert await deliver(sender(broker), cmd)
    assert [r.outcome for r in broker.results] == ["expired"]
    assert broker.ledger[cmd.command_id]["state"] == DONE


class _KilledPublisher(Publisher):
    async def result(self, result: SendResult) -> Awaitable[None]:
        raise Killed
