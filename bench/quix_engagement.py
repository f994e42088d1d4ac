"""The engagement fold as a Quix Streams app: the library issue 6 measures the agent against.

Run by ``bench/engagement.py --quix PYTHON`` in an interpreter that has Quix Streams (it pins
other versions of confluent-kafka and pydantic than wapipe does, so it lives in its own
virtual environment; docs/benchmarks.md, "Against Quix Streams", has the commands)::

    PYTHON bench/quix_engagement.py BOOTSTRAP EVENTS {fold,count}

It reads the five customer topics ``bench/engagement.py`` produced from the start, in one
consumer group of one process, with Quix's stateful processing (RocksDB state, changelog
topics, commits every 5 s: its defaults), and prints one JSON line: events/s from the first
message processed to the last, and µs of CPU per event over the same span.

* ``fold``: what the engagement agent does, written the way Quix offers: per message, the
  customer's state from the store, the same pure fold (``fold_batch`` of one record), the
  state back, and the TagChanges (Avro, as the agent encodes them) to ``customer.tags.v1``.
  Quix stores JSON-serialisable values, so the state goes in as the table codec's plain
  form (``to_plain`` / ``from_plain``).
* ``count``: a counter per customer, the kind of minimal stateful app the 53,000 events/s
  reference in issue 6 describes.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quixstreams import Application, State
from quixstreams.models.topics.manager import TopicManager

from pipeline import topics
from pipeline.agents.engagement import SOURCES, tag_change_fields
from pipeline.agents.state_codec import from_plain, to_plain
from pipeline.events import TagChange
from pipeline.policy.customer_batch import FOLDED_FIELDS
from pipeline.policy.tag_thresholds import DEFAULT_TAG_THRESHOLDS
from pipeline.policy.tag_timeline import TaggedCustomer, fold_batch
from pipeline.schemas.codec import AvroEventCodec


def _with_retention(derive: Any) -> Any:
    # Quix sizes its changelog topics from the sources' retention.ms, which Apache Kafka
    # always describes and the embedded broker (Tansu) leaves out: infinite, as there.
    def derive_topic_config(cls: Any, sources: Any) -> Any:
        for topic in sources:
            topic.broker_config.extra_config.setdefault("retention.ms", "-1")
        return derive(sources)

    return classmethod(derive_topic_config)


TopicManager.derive_topic_config = _with_retention(TopicManager.derive_topic_config)  # type: ignore[method-assign]


def main(bootstrap: str, events: int, mode: str) -> dict[str, Any]:
    app = Application(
        broker_address=bootstrap,
        consumer_group=f"bench-quix-{mode}-{time.monotonic_ns()}",
        auto_offset_reset="earliest",
        state_dir=tempfile.mkdtemp(prefix="bench-quix-"),
        loglevel="WARNING",
        on_message_processed=lambda topic, partition, offset: progress(),
    )
    sources = [
        app.topic(spec.name, key_deserializer="str", value_deserializer="bytes") for spec in SOURCES
    ]
    sdf = app.dataframe(sources[0])
    for topic in sources[1:]:  # co-partitioned, keyed by customer: one state per customer
        sdf = sdf.concat(app.dataframe(topic))
    codec = AvroEventCodec()
    folded = codec.projection(FOLDED_FIELDS)
    tag_schema = codec.registry.current(TagChange.__name__)
    seen = {"n": 0, "first": 0.0, "first_cpu": 0.0, "last": 0.0, "last_cpu": 0.0}

    def progress() -> None:
        seen["n"] += 1
        if seen["n"] == 1:
            seen["first"], seen["first_cpu"] = time.perf_counter(), time.process_time()
        if seen["n"] >= events:
            seen["last"], seen["last_cpu"] = time.perf_counter(), time.process_time()
            app.stop()

    def fold(value: bytes, key: str, timestamp: int, headers: Any, state: State) -> list[bytes]:
        stored = state.get("customer")
        before = TaggedCustomer() if stored is None else from_plain(stored)
        after, deltas = fold_batch(before, [folded.decode_dict(value)], DEFAULT_TAG_THRESHOLDS)
        if after is not before:
            state.set("customer", to_plain(after))
        return [codec.encode_dict(tag_schema, tag_change_fields(key, d)) for d in deltas]

    def count(value: bytes, state: State) -> None:
        state.set("n", state.get("n", 0) + 1)

    if mode == "fold":
        tags = app.topic(topics.TAGS.name, key_serializer="str", value_serializer="bytes")
        sdf = sdf.apply(fold, stateful=True, metadata=True, expand=True).to_topic(tags)
    else:
        sdf = sdf.update(count, stateful=True)
    app.run(sdf)
    counted = seen["n"] - 1
    return {
        "mode": mode,
        "events": seen["n"],
        "rate": counted / (seen["last"] - seen["first"]),
        "cpu_us": (seen["last_cpu"] - seen["first_cpu"]) / counted * 1e6,
    }


if __name__ == "__main__":
    bootstrap, events, mode = sys.argv[1:4]
    print(json.dumps(main(bootstrap, int(events), mode)))
