"""Everything the broker and the sandbox know about a few commands: the failure message of the
sender's crash tests, so a missing or doubled SendResult names its command and its history."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from pipeline.schemas.codec import AvroEventCodec
from pipeline.topics import COMMANDS, RESULTS
from tests.sender.harness import QUIET, SandboxProcess

LEDGER_TABLE = "sender-commands"


def read_topic(bootstrap: str, topic: str, *, idle_s: float = 2.0) -> list[Any]:
    """Every record of ``topic``, from the beginning of each partition, until ``idle_s`` passes
    with nothing new. No reported end offset is trusted (Tansu's can stop one batch short)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"history-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
            **QUIET,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)]
        )
        records: list[Any] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_s:
            batch = [m for m in consumer.consume(10_000, timeout=0.2) if m.error() is None]
            if batch:
                records.extend(batch)
                quiet_since = time.monotonic()
        return records
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, **QUIET})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        tps = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


def _ledger_key(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        key = json.loads(raw)  # the table's serializer for str keys is JSON
    except ValueError:
        return raw.decode(errors="replace")
    return key if isinstance(key, str) else None


def command_history(
    *,
    bootstrap: str,
    app_id: str,
    command_ids: Collection[str],
    sandbox: SandboxProcess,
    worker_log: Path | None = None,
) -> str:
    """A readable history of ``command_ids``: where each command sits in its topic, the group's
    committed offset there, every ledger record, every SendResult, every request the sandbox
    received, and the worker log lines that name it."""
    wanted = set(command_ids)
    codec = AvroEventCodec()
    committed = committed_offsets(bootstrap, app_id, COMMANDS.name)
    lines: list[str] = [f"group {app_id} committed offsets of {COMMANDS.name}: {committed}"]
    for message in read_topic(bootstrap, COMMANDS.name):
        command = codec.decode(message.value())
        if command.command_id in wanted:
            lines.append(
                f"command {command.command_id}: partition {message.partition()} "
                f"offset {message.offset()}"
            )
    changelog = f"{app_id}-{LEDGER_TABLE}-changelog"
    for message in read_topic(bootstrap, changelog):
        key = _ledger_key(message.key())
        if key in wanted:
            lines.append(
                f"ledger {key}: partition {message.partition()} offset {message.offset()} "
                f"{message.value()!r}"
            )
    for message in read_topic(bootstrap, RESULTS.name):
        result = codec.decode(message.value())
        if result.command_id in wanted:
            lines.append(
                f"result {result.command_id}: {result.outcome} {result.reason} "
                f"partition {message.partition()} offset {message.offset()}"
            )
    for request in sandbox.requests():
        if request.biz_opaque_callback_data in wanted:
            lines.append(f"sandbox {request.biz_opaque_callback_data}: {vars(request)}")
    if worker_log is not None and worker_log.exists():
        for line in worker_log.read_text(errors="replace").splitlines():
            if any(c in line for c in wanted):
                lines.append(f"log: {line[:400]}")
    return "\n".join(lines)
