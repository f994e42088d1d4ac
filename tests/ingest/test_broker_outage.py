"""Broker down → 503 so Meta retries; broker back → the retry is accepted, one event downstream.

Tansu here keeps data in memory, so the restarted broker starts empty: the test recreates
the topics (as a real cluster would still have them) and asserts on the retried event.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from pipeline import topics
from pipeline.runtime import broker as broker_module
from pipeline.runtime.broker import EmbeddedBroker, free_port
from pipeline.runtime.kafka_admin import ensure_topics
from tests.ingest import meta_examples as meta
from tests.ingest.broker_reading import read_topic
from tests.support.workers import WorkerProcess

pytestmark = [pytest.mark.broker, pytest.mark.slow]

APP_SECRET = b"outage-secret"
PARTITIONS = 4


def test_broker_outage_answers_503_and_the_retry_is_accepted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ensure_port_free binds without SO_REUSEADDR, so the killed broker's connections in
    # TIME_WAIT make it refuse the port for a minute; Tansu itself rebinds at once.
    monkeypatch.setattr(broker_module, "ensure_port_free", lambda *_a, **_k: None)
    port = free_port()
    first = EmbeddedBroker(port=port)
    first.start()
    worker = WorkerProcess(
        bootstrap=first.bootstrap_servers,
        data_dir=tmp_path,
        app_id="wapipe-test-outage",
        roles="ingest",
        partitions=PARTITIONS,
        env={
            "WAPIPE_WHATSAPP_APP_SECRET": APP_SECRET.decode(),
            "WAPIPE_INGEST_ACK_TIMEOUT_S": "1.5",
        },
    )
    second: EmbeddedBroker | None = None
    try:
        worker.start()
        url = worker.url + "/webhooks/whatsapp"
        before, headers = meta.signed(
            meta.envelope(meta.messages_value(meta.text_message("wamid.before"))),
            app_secret=APP_SECRET,
        )
        assert httpx.post(url, content=before, headers=headers, timeout=10).status_code == 200

        first.kill()
        body, headers = meta.signed(
            meta.envelope(meta.messages_value(meta.text_message("wamid.during-outage"))),
            app_secret=APP_SECRET,
        )
        started = time.monotonic()
        down = httpx.post(url, content=body, headers=headers, timeout=10)
        assert down.status_code == 503, down.text
        assert time.monotonic() - started < 5, "503 must come after the ack timeout, not later"

        second = EmbeddedBroker(port=port)
        second.start()
        ensure_topics(
            second.bootstrap_servers,
            [topics.INBOUND, topics.DEADLETTER],
            partitions=PARTITIONS,
            replication=1,
        )
        # Meta retries with back-off; do the same until the worker has reconnected.
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and status != 200:
            status = httpx.post(url, content=body, headers=headers, timeout=10).status_code
            if status != 200:
                assert status == 503
                time.sleep(0.5)
        assert status == 200, f"retry not accepted after the broker came back:\n{worker.log_tail()}"

        seen = read_topic(
            second.bootstrap_servers,
            topics.INBOUND.name,
            until=lambda s: any(e.event_id == "wamid.during-outage" for _k, e in s),
        )
        retried = [e for _k, e in seen if e.event_id == "wamid.during-outage"]
        assert retried, "the accepted retry is not on the broker"
        # Copies (a late delivery of the refused attempt) share the id: one event downstream.
        assert {e.event_id for e in retried} == {"wamid.during-outage"}
        assert worker.proc is not None and worker.proc.poll() is None, "the worker died"
    finally:
        worker.stop()
        first.stop()
        if second is not None:
            second.stop()
