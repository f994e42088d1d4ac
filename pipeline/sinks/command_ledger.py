"""What the sender knows about each command id, in Faust tables that survive a crash.

``CommandLedger`` (table ``sender-commands``) maps ``command_id`` to its state:

    in_flight  an HTTP send may be under way; written *and acknowledged by the broker* before
               the request leaves, so a worker killed mid-request finds it at restart
    waiting    a send attempt failed and a retry is scheduled (nothing is out there)
    deferred   parked in :class:`DeferralBook` until it is due (offset released)
    finishing  a SendResult is being produced for a command with no send out there (skipped,
               expired, rejected before any request); after a crash the results topic says
               whether it made it: if so the command is done, else it is gated again
    done       the one SendResult was produced; a redelivered copy is dropped. Forgotten
               (a tombstone) after ``WAPIPE_SENDER_LEDGER_RETENTION_HOURS``, so the table does
               not grow with every message ever sent

``DeferralBook`` (table ``sender-deferred``) holds the commands that wait longer than a lane
should hold them; a timer re-produces each to the commands topic when it is due.

Both write their changelog themselves, with an explicit partition (the partition of the
command's event), and hand back the broker's ack to await: Faust's ``table[key] = value``
discards it, and the in-flight mark is only useful once it is durable. The partition is the
one Faust would pick inside the agent, so recovery and co-partitioning are unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Collection
from typing import Any

import faust
from faust.serializers import codecs

from pipeline.events import OutboundCommand
from pipeline.runtime.encoded_produce import EncodedProducer

IN_FLIGHT = "in_flight"
WAITING = "waiting"
DEFERRED = "deferred"
FINISHING = "finishing"
DONE = "done"

_SCHEMA: faust.Schema = faust.Schema(key_type=str, key_serializer="utf8", value_serializer="json")


class _DurableTable:
    def __init__(self, app: faust.App, name: str, *, partitions: int) -> None:
        self.table = app.Table(name, partitions=partitions, schema=_SCHEMA)
        self._producer = EncodedProducer(app)

    def get(self, key: str) -> dict[str, Any] | None:
        value = self.table.data.get(key)
        return value if isinstance(value, dict) else None

    async def put(self, key: str, value: dict[str, Any], *, partition: int) -> Awaitable[Any]:
        """Write ``key``; the returned awaitable resolves when the broker has the change."""
        self.table.data[key] = value
        return await self._changelog(key, codecs.dumps("json", value), partition)

    async def delete(self, key: str, *, partition: int) -> Awaitable[Any]:
        self.table.data.pop(key, None)
        return await self._changelog(key, None, partition)  # a tombstone

    async def _changelog(self, key: str, value: bytes | None, partition: int) -> Awaitable[Any]:
        # Produced at once (Table.send_changelog goes through Faust's producer buffer, one
        # message at a time: ~100 messages/s measured here), encoded here (Topic.send's
        # machinery was a tenth of the sender's CPU: runtime/encoded_produce.py). Recovery
        # decodes keys with the table's serializer (chosen from key_type: JSON for str), not
        # the schema's; writing with another made recovery fail on every key.
        key_serializer = self.table.key_serializer or "json"  # type: ignore[attr-defined]
        return await self._producer.send(
            self.table.changelog_topic.get_topic_name(),
            codecs.dumps(key_serializer, key),
            value,
            partition=partition,
        )

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        return [(k, v) for k, v in self.table.data.items() if isinstance(v, dict)]


class CommandLedger(_DurableTable):
    def __init__(self, app: faust.App, *, partitions: int) -> None:
        super().__init__(app, "sender-commands", partitions=partitions)

    def forgettable(
        self, now_ms: int, *, retention_ms: int, partitions: Collection[int]
    ) -> list[tuple[str, int]]:
        """``(command_id, partition)`` of the done marks older than ``retention_ms`` in
        ``partitions`` (the ones this worker owns: a standby copy is the owner's to forget).

        Only done marks: an entry in any other state is a command still being settled. Done
        marks written before they carried a time (older versions) are kept.
        """
        cutoff = now_ms - retention_ms
        found = []
        for key, entry in self.items():
            if entry.get("state") != DONE:
                continue
            done_ms, partition = entry.get("done_ms"), entry.get("partition")
            if (
                isinstance(done_ms, int)
                and done_ms <= cutoff
                and isinstance(partition, int)
                and partition in partitions
            ):
                found.append((key, partition))
        return found

    def state(self, command_id: str) -> str | None:
        entry = self.get(command_id)
        return None if entry is None else str(entry.get("state"))

    def attempts(self, command_id: str) -> int:
        entry = self.get(command_id)
        return int(entry.get("attempts", 0)) if entry else 0


class DeferralBook(_DurableTable):
    def __init__(self, app: faust.App, *, partitions: int) -> None:
        super().__init__(app, "sender-deferred", partitions=partitions)

    def due(self, now_ms: int) -> list[tuple[str, int, OutboundCommand]]:
        """``(command_id, partition, command)`` of every deferral due at ``now_ms``."""
        out = []
        for key, entry in self.items():
            if int(entry["due_ms"]) <= now_ms:
                out.append((key, int(entry["partition"]), command_from_json(entry["command"])))
        return out


def done_mark(outcome: str, *, wamid: str | None, partition: int, now_ms: int) -> dict[str, Any]:
    """A command's ``done`` entry; its time and partition let the ledger forget it later."""
    return {
        "state": DONE,
        "outcome": outcome,
        "wamid": wamid,
        "done_ms": now_ms,
        "partition": partition,
    }


def command_to_json(command: OutboundCommand) -> dict[str, Any]:
    return dataclasses.asdict(command)


def command_from_json(data: dict[str, Any]) -> OutboundCommand:
    fields = dict(data)
    fields["template_params"] = tuple(fields.get("template_params") or ())
    return OutboundCommand(**fields)
