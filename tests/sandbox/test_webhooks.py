"""Status and inbound webhooks: Meta's envelope, HMAC signature, batching, retries, purchases."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from pipeline.sandbox import BehaviourRates
from pipeline.sandbox.world import HISTORY_CHUNK
from tests.sandbox.conftest import (
    NUMBER_ID,
    SECRET,
    Callback,
    customer_in,
    send,
    template,
)

# Everyone receives, reads, answers and buys: every webhook kind appears for every message.
EVERYTHING = BehaviourRates(
    delivery_rate=1.0,
    media_delivery_rate=1.0,
    read_rate=1.0,
    reply_rate_utility=1.0,
    reply_rate_marketing=1.0,
    conversion_rate=1.0,
    inbound_per_customer_day=0.0,
)


def assert_signed(cb: Callback) -> None:
    assert cb.received, "the callback got no POST"
    for headers, body in cb.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        got = headers.get("X-Hub-Signature-256")
        assert got == expected, "X-Hub-Signature-256 must be HMAC-SHA256(raw body, app secret)"


async def test_every_webhook_is_signed_and_in_metas_envelope(
    start_sandbox: Any, callback: Callback, http: httpx.AsyncClient
) -> None:
    server = await start_sandbox(behaviour=EVERYTHING, callback_url=callback.url + "/webhook")
    wa_id = customer_in(server, "82")
    r = await send(http, server, template(wa_id, biz_opaque_callback_data="campaign-7"))
    wamid = r.json()["messages"][0]["id"]
    server.world.clock.advance(2 * 86400)
    await server.world.settle()

    assert_signed(callback)
    for body in callback.bodies():
        assert body["object"] == "whatsapp_business_account"
        for entry in body["entry"]:
            assert entry["id"] == server.config.business_numbers[0].waba_id
            for change in entry["changes"]:
                value = change["value"]
                assert change["field"] == "messages"
                assert value["messaging_product"] == "whatsapp"
                assert value["metadata"]["phone_number_id"] == NUMBER_ID
    statuses = [s for s in callback.items("statuses") if s["id"] == wamid]
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert server.record.statuses_for(wamid) == ["sent", "delivered", "read"]
    for status in statuses:
        assert status["recipient_id"] == wa_id
        assert status["timestamp"].isdigit(), "status timestamps are strings of Unix seconds"
        assert status["biz_opaque_callback_data"] == "campaign-7", "echoed in every status"
    assert statuses[0]["pricing"] == {
        "billable": True,
        "pricing_model": "PMP",
        "type": "regular",
        "category": "utility",
    }
    [reply] = [m for m in callback.items("messages") if m.get("context", {}).get("id") == wamid]
    assert reply["from"] == wa_id and reply["type"] == "text" and reply["text"]["body"]
    assert reply["context"]["from"] == server.config.business_numbers[0].display_phone_number
    assert {"profile": {"name": server.world.population.get(wa_id).name}, "wa_id": wa_id} in (
        callback.items("contacts")
    )
    assert server.world.rules.windows.is_open(NUMBER_ID, wa_id, float(reply["timestamp"])), (
        "a reply opens the 24 h service window"
    )


async def test_updates_are_batched_into_few_posts(
    start_sandbox: Any, callback: Callback, http: httpx.AsyncClient
) -> None:
    server = await start_sandbox(behaviour=EVERYTHING, callback_url=callback.url + "/webhook")
    customers = [c.wa_id for c in server.world.population if c.reachable][:20]
    for wa_id in customers:
        await send(http, server, template(wa_id))
    server.world.clock.advance(2 * 86400)
    await server.world.settle()
    statuses = callback.items("statuses")
    assert len(statuses) == 60, "sent, delivered and read for each of the 20 messages"
    assert len(callback.received) < 10, f"batched: got {len(callback.received)} POSTs"
    assert_signed(callback)


async def test_failing_callback_is_retried_with_the_same_signed_body(
    start_sandbox: Any, callback: Callback, http: httpx.AsyncClient
) -> None:
    callback.fail_first = 2
    server = await start_sandbox(behaviour=EVERYTHING, callback_url=callback.url + "/webhook")
    await send(http, server, template(customer_in(server, "82")))
    server.world.clock.advance(1.6)  # only "sent" is due: one POST
    await server.world.settle()
    assert callback.answers == [500, 500, 200]
    bodies = {body for _, body in callback.received}
    assert len(bodies) == 1, "a retry re-sends the same bytes"
    assert_signed(callback)
    [post] = server.record.posts(target="webhook")
    assert post.attempts == [500, 500, 200] and post.delivered


async def test_user_preferences_stop_webhook(
    start_sandbox: Any, callback: Callback, http: httpx.AsyncClient
) -> None:
    server = await start_sandbox(callback_url=callback.url + "/webhook")
    wa_id = customer_in(server, "82")
    await http.post(
        f"{server.base_url}/_sandbox/customers/{wa_id}", json={"marketing_stopped": True}
    )
    await server.world.settle()
    [pref] = callback.items("user_preferences")
    assert pref["wa_id"] == wa_id and pref["value"] == "stop"
    assert pref["category"] == "marketing_messages"
    assert isinstance(pref["timestamp"], int), "Meta sends this one as an integer"
    assert_signed(callback)


def assert_purchase_payload(payload: dict[str, Any]) -> None:
    assert set(payload) == {"order_id", "customer", "amount", "currency", "items", "ts"}
    assert payload["customer"].isdigit()
    total = sum(Decimal(item["amount"]) for item in payload["items"])
    assert Decimal(payload["amount"]) == total, "amount is the sum of the items"
    assert datetime.fromisoformat(payload["ts"]).tzinfo is not None, "ts carries its zone"
    assert all(item["quantity"] >= 1 and item["sku"] for item in payload["items"])


async def test_conversions_and_history_go_to_the_purchases_endpoint(
    start_sandbox: Any, callback: Callback, http: httpx.AsyncClient
) -> None:
    server = await start_sandbox(
        behaviour=EVERYTHING, purchases_url=callback.url + "/purchases", purchases_api_key="buy-key"
    )
    wa_id = customer_in(server, "82")
    await send(http, server, template(wa_id, name="spring_sale", params=("30%",)))
    server.world.clock.advance(8 * 86400)
    await server.world.settle()
    [(headers, body)] = callback.received
    assert headers["Authorization"] == "Bearer buy-key"
    payload = json.loads(body)
    assert payload["customer"] == wa_id and payload["currency"] == "KRW"
    assert_purchase_payload(payload)
    orders = (await http.post(f"{server.base_url}/_sandbox/history/publish")).json()["orders"]
    await server.world.settle()
    assert orders > 100, "a 200-customer population has a purchase history"
    # The history goes out as lists of orders (HISTORY_CHUNK per POST), as a shop backfills.
    history = [json.loads(raw) for _, raw in callback.received[1:]]
    assert all(isinstance(chunk, list) for chunk in history)
    assert sum(len(chunk) for chunk in history) == orders
    assert max(len(chunk) for chunk in history) <= HISTORY_CHUNK
    for chunk in history:
        for payload in chunk:
            assert_purchase_payload(payload)
