"""The real endpoint over HTTP: a `wapipe run --roles ingest` worker and the real broker.

Signed payloads shaped like Meta's documented examples go in; the events are read back from
the broker. Every refused request gets its documented status and is counted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import topics
from pipeline.events import Alarm, ConsentChange, DeadLetter, DeliveryReceipt, InboundMessage
from pipeline.ingest.signature import SIGNATURE_HEADER, sign
from pipeline.runtime.broker import EmbeddedBroker
from tests.ingest import meta_examples as meta
from tests.ingest.broker_reading import events_with_ids, read_topic
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.broker

# The dev defaults, so docs/ingestion.md's examples run against this worker unchanged; a
# configured secret is exercised by test_broker_outage.py.
APP_SECRET = b"wapipe-dev-app-secret"
VERIFY_TOKEN = "wapipe-dev-verify-token"
API_KEY = "wapipe-dev-purchases-key"
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def worker(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(
        bootstrap=broker.bootstrap_servers,
        data_dir=Path(tmp_path_factory.mktemp("ingest")),
        app_id="wapipe-test-ingest",
        roles="ingest",
        env={"WAPIPE_WEBHOOK_MAX_BODY_BYTES": str(MAX_BODY)},
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def http(worker: WorkerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=worker.url, timeout=10) as client:
        yield client


def post_webhook(http: httpx.Client, payload: Any) -> httpx.Response:
    body, headers = meta.signed(payload, app_secret=APP_SECRET)
    return http.post("/webhooks/whatsapp", content=body, headers=headers)


def metric(http: httpx.Client, line_start: str) -> int:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return int(line.rsplit(" ", 1)[1])
    return 0


def test_meta_examples_arrive_on_their_topics(http: httpx.Client, broker: EmbeddedBroker) -> None:
    bootstrap = broker.bootstrap_servers
    messages = [
        meta.text_message("wamid.http.text"),
        meta.interactive_button_reply("wamid.http.interactive"),
        meta.template_quick_reply("wamid.http.button"),
    ]
    statuses = [
        meta.sent_status_with_pricing("wamid.http.sent"),
        meta.v24_read_status("wamid.http.v24"),
        meta.failed_status_131049("wamid.http.failed"),
    ]
    for payload in (
        *(meta.envelope(meta.messages_value(m)) for m in messages),
        *(meta.envelope(meta.statuses_value(s)) for s in statuses),
        meta.user_preferences_stop(),
        meta.account_errors(),
    ):
        response = post_webhook(http, payload)
        assert response.status_code == 200, response.text

    inbound = events_with_ids(bootstrap, topics.INBOUND.name, {m["id"] for m in messages})
    assert set(inbound) == {m["id"] for m in messages}, "inbound messages missing on the broker"
    key, text = inbound["wamid.http.text"]
    assert key == meta.CUSTOMER and isinstance(text, InboundMessage)
    assert (text.text, text.profile_name) == ("Does it come in another color?", "Sheena Nelson")
    assert inbound["wamid.http.interactive"][1].payload == "cancel-button"
    assert inbound["wamid.http.button"][1].payload == "Unsubscribe"

    receipt_ids = {f"{s['id']}:{s['status']}" for s in statuses}
    receipts = events_with_ids(bootstrap, topics.STATUS.name, receipt_ids)
    assert set(receipts) == receipt_ids
    sent = receipts["wamid.http.sent:sent"][1]
    assert isinstance(sent, DeliveryReceipt)
    assert (sent.pricing_billable, sent.pricing_category, sent.biz_opaque_callback_data) == (
        True,
        "marketing",
        "cmd-7f3a",
    )
    assert receipts["wamid.http.v24:read"][1].pricing_model is None
    assert receipts["wamid.http.failed:failed"][1].error_code == 131049

    consent = read_topic(bootstrap, topics.CONSENT.name, until=lambda seen: bool(seen))
    assert [(k, e.consent, e.source) for k, e in consent if isinstance(e, ConsentChange)] == [
        (meta.CUSTOMER, "opted_out", "user_preferences")
    ]
    alarms = read_topic(bootstrap, topics.ALARMS.name, until=lambda seen: bool(seen))
    assert [(e.kind, e.state) for _k, e in alarms if isinstance(e, Alarm)] == [
        ("account_error", "firing")
    ]


def test_bad_item_is_dead_lettered_and_its_neighbours_accepted(
    http: httpx.Client, broker: EmbeddedBroker
) -> None:
    bad = {"from": "not-a-number", "id": "wamid.http.bad", "type": "text", "timestamp": "1"}
    payload = meta.envelope(meta.messages_value(meta.text_message("wamid.http.good"), bad))
    before = metric(http, 'wapipe_ingest_dead_lettered_total{endpoint="webhook"}')
    response = post_webhook(http, payload)
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "dead_lettered": 1}
    assert events_with_ids(broker.bootstrap_servers, topics.INBOUND.name, {"wamid.http.good"})
    letters = read_topic(
        broker.bootstrap_servers,
        topics.DEADLETTER.name,
        until=lambda seen: any(b"wamid.http.bad" in e.raw for _k, e in seen),
    )
    letter = next(e for _k, e in letters if b"wamid.http.bad" in e.raw)
    assert isinstance(letter, DeadLetter) and "from" in letter.reason
    assert json.loads(letter.raw) == bad
    assert metric(http, 'wapipe_ingest_dead_lettered_total{endpoint="webhook"}') == before + 1


def test_verification_handshake(http: httpx.Client) -> None:
    ok = http.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = http.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403


def test_refused_webhooks_get_their_documented_status(http: httpx.Client) -> None:
    body = meta.body_of(meta.envelope(meta.messages_value(meta.text_message("wamid.refused"))))
    refused = 'wapipe_ingest_refused_total{endpoint="webhook",reason="%s"}'
    before = {r: metric(http, refused % r) for r in ("signature", "too_large", "not_json")}

    assert http.post("/webhooks/whatsapp", content=body).status_code == 401
    wrong = {"X-Hub-Signature-256": sign(body, app_secret=b"not-the-secret")}
    assert http.post("/webhooks/whatsapp", content=body, headers=wrong).status_code == 401

    big = b"{" + b" " * MAX_BODY + b"}"
    headers = {"X-Hub-Signature-256": sign(big, app_secret=APP_SECRET)}
    assert http.post("/webhooks/whatsapp", content=big, headers=headers).status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        yield from (big[i : i + 8192] for i in range(0, len(big), 8192))

    assert http.post("/webhooks/whatsapp", content=chunked(), headers=headers).status_code == 413

    not_json = b"<xml/>"
    headers = {"X-Hub-Signature-256": sign(not_json, app_secret=APP_SECRET)}
    assert http.post("/webhooks/whatsapp", content=not_json, headers=headers).status_code == 400

    after = {r: metric(http, refused % r) for r in before}
    assert after == {
        "signature": before["signature"] + 2,
        "too_large": before["too_large"] + 2,
        "not_json": before["not_json"] + 1,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode), signed=st.booleans())
def test_random_bodies_get_the_documented_status_and_never_break_the_worker(
    http: httpx.Client, body: bytes, signed: bool
) -> None:
    headers = {"X-Hub-Signature-256": sign(body, app_secret=APP_SECRET)} if signed else {}
    status = http.post("/webhooks/whatsapp", content=body, headers=headers).status_code
    if not signed:
        assert status == 401
    else:
        try:
            json.loads(body)
        except ValueError:
            assert status == 400
        else:
            assert status == 200  # any JSON: events or dead letters, never a refusal


def test_purchases_endpoint(http: httpx.Client, broker: EmbeddedBroker) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    good = {
        "order_id": "http-order-1",
        "phone": "+16502530000",
        "amount": 19.99,
        "currency": "USD",
        "ts": "2026-03-01T10:00:00+09:00",
    }
    assert http.post("/purchases", json=good).status_code == 401
    assert (
        http.post("/purchases", json=good, headers={"Authorization": "Bearer no"}).status_code
        == 401
    )
    assert http.post("/purchases", content=b"{", headers=auth).status_code == 400
    assert http.post("/purchases", content=b"x" * (MAX_BODY + 1), headers=auth).status_code == 413

    one = http.post("/purchases", json=good, headers=auth)
    assert (one.status_code, one.json()["accepted"]) == (200, 1)
    rows = [
        dict(good, order_id="http-order-2"),
        dict(good, order_id="http-order-3", amount="1.001"),
    ]
    mixed = http.post("/purchases", json=rows, headers=auth)
    assert mixed.status_code == 207
    assert mixed.json()["accepted"] == 1
    assert [(e["line"], "decimals" in e["reason"]) for e in mixed.json()["errors"]] == [(2, True)]

    found = events_with_ids(
        broker.bootstrap_servers,
        topics.PURCHASES.name,
        {"http-order-1", "http-order-2"},
        id_field="order_id",
    )
    key, purchase = found["http-order-1"]
    assert (key, purchase.amount_minor, purchase.currency) == ("16502530000", 1999, "USD")
    letters = read_topic(
        broker.bootstrap_servers,
        topics.DEADLETTER.name,
        until=lambda seen: any(b"http-order-3" in e.raw for _k, e in seen),
    )
    assert any(e.source == "purchases" and b"http-order-3" in e.raw for _k, e in letters)


def test_the_examples_in_docs_ingestion_work(http: httpx.Client) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "ingestion.md").read_text()
    body = re.search(r"^BODY='(.*)'$", doc, re.MULTILINE).group(1).encode()
    purchase = re.search(r"^  -d '(.*)'$", doc, re.MULTILINE).group(1).encode()
    signature = sign(body, app_secret=b"wapipe-dev-app-secret")  # what the openssl line computes
    answer = http.post("/webhooks/whatsapp", content=body, headers={SIGNATURE_HEADER: signature})
    assert answer.text == '{"accepted":1,"dead_lettered":0}'
    answer = http.post(
        "/purchases", content=purchase, headers={"Authorization": "Bearer wapipe-dev-purchases-key"}
    )
    assert answer.text == '{"accepted":1,"rejected":0,"errors":[]}'
    query = re.search(r"curl -s '[^'\n]*/webhooks/whatsapp\?([^'\n]*)'", doc).group(1)
    assert http.get("/webhooks/whatsapp?" + query).text == "1158201444"
