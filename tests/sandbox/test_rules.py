"""Every rule and error code of issue 4, through HTTP, in Meta's exact error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pipeline.sandbox import BehaviourRates, SandboxServer
from tests.sandbox.conftest import NUMBER_ID, customer_in, send, template, text

WHATSAPP_ERROR_KEYS = {"message", "type", "code", "error_data", "fbtrace_id"}


def assert_meta_error(response: httpx.Response, code: int) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, f"an error body has only 'error', got {body}"
    error = body["error"]
    assert error["code"] == code, f"expected code {code}, got {error}"
    assert error["message"].startswith(f"(#{code}) "), error["message"]
    assert error["type"] == "OAuthException"
    assert set(error) == WHATSAPP_ERROR_KEYS, f"Meta's WhatsApp error keys, got {set(error)}"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert isinstance(error["error_data"]["details"], str) and error["error_data"]["details"]
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error


async def open_window(http: httpx.AsyncClient, server: SandboxServer, wa_id: str) -> None:
    r = await http.post(f"{server.base_url}/_sandbox/inbound", json={"from": wa_id, "text": "hi"})
    assert r.status_code == 200, r.text


async def test_success_body_matches_meta_with_and_without_plus(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    wa_id = customer_in(sandbox, "82")
    for to in (wa_id, "+" + wa_id):
        sandbox.world.clock.advance(7)  # past the pair-rate interval
        r = await send(http, sandbox, template(to))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["messaging_product"] == "whatsapp"
        assert body["contacts"] == [{"input": to, "wa_id": wa_id}]
        [message] = body["messages"]
        assert message["id"].startswith("wamid.") and message["message_status"] == "accepted"


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_bad_token_is_190_with_http_401(
    sandbox: SandboxServer, http: httpx.AsyncClient, token: str | None
) -> None:
    r = await send(http, sandbox, template(customer_in(sandbox, "82")), token=token)
    assert r.status_code == 401
    error = r.json()["error"]
    assert error["code"] == 190 and error["type"] == "OAuthException"
    assert "access token" in error["message"]
    assert sandbox.record.requests(error_code=190), "refusals are recorded too"


async def test_unknown_phone_number_id_is_graph_100_subcode_33(
    start_sandbox: Any, http: httpx.AsyncClient
) -> None:
    server = await start_sandbox(auto_register_numbers=False)
    r = await send(http, server, template(customer_in(server, "82")), number_id="999000111")
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (
        100,
        33,
        "GraphMethodException",
    )
    assert "999000111" in error["message"]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b: b.pop("messaging_product"), 100),
        (lambda b: b.update(messaging_product="sms"), 100),
        (lambda b: b.update(type="hologram"), 100),
        (lambda b: b.update(to="not-a-number"), 100),
        (lambda b: b.update(to="+12"), 100),
        (lambda b: b.update(biz_opaque_callback_data=12), 100),
        (lambda b: b.pop("to"), 131008),
        (lambda b: b.update(text={}), 131008),
        (lambda b: b.pop("text"), 131008),
    ],
)
async def test_malformed_text_requests(
    sandbox: SandboxServer, http: httpx.AsyncClient, mutate: Any, code: int
) -> None:
    body = text(customer_in(sandbox, "82"))
    mutate(body)
    r = await send(http, sandbox, body)
    assert r.status_code == 400
    assert_meta_error(r, code)


async def test_invalid_json_is_100(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    assert_meta_error(await send(http, sandbox, b"{not json"), 100)


@pytest.mark.parametrize(
    ("body_args", "code"),
    [
        ({"name": "no_such_template"}, 132001),
        ({"lang": "fr_FR"}, 132001),  # exists, but not in that language
        ({"name": "bold_claims", "params": ()}, 132001),  # REJECTED reads as missing
        ({"name": "winter_promo", "params": ("x",)}, 132015),  # PAUSED
        ({"params": ("only one",)}, 132000),  # order_shipped wants 2 body parameters
        ({"params": ("a", "b", "c")}, 132000),
        ({"name": ""}, 131008),
    ],
)
async def test_template_registry_checks(
    sandbox: SandboxServer, http: httpx.AsyncClient, body_args: dict[str, Any], code: int
) -> None:
    r = await send(http, sandbox, template(customer_in(sandbox, "82"), **body_args))
    assert_meta_error(r, code)


async def test_template_paused_by_admin_then_unpaused(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    wa_id = customer_in(sandbox, "82")
    admin = f"{sandbox.base_url}/_sandbox/templates"
    spec = {
        "name": "order_shipped",
        "language": "en_US",
        "category": "utility",
        "body_parameter_count": 2,
    }
    await http.post(admin, json={**spec, "status": "PAUSED"})
    assert_meta_error(await send(http, sandbox, template(wa_id)), 132015)
    await http.post(admin, json={**spec, "status": "APPROVED"})
    assert (await send(http, sandbox, template(wa_id))).status_code == 200


async def test_throughput_80_per_second_per_number_then_130429(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    customers = [c.wa_id for c in sandbox.world.population if c.reachable][:81]
    for wa_id in customers[:80]:
        r = await send(http, sandbox, template(wa_id))
        assert r.status_code == 200, r.text
    r = await send(http, sandbox, template(customers[80], biz_opaque_callback_data="cmd-81"))
    assert r.status_code == 429
    assert_meta_error(r, 130429)
    # Refused before the body counted, yet recorded as this command's attempt.
    refused = [q for q in sandbox.world.record.requests() if q.error_code == 130429]
    assert [(q.biz_opaque_callback_data, q.to) for q in refused] == [("cmd-81", customers[80])]
    sandbox.world.clock.advance(1.0)
    assert (await send(http, sandbox, template(customers[80]))).status_code == 200


async def test_pair_rate_one_per_6s_per_customer_then_131056(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    wa_id, other = customer_in(sandbox, "82"), customer_in(sandbox, "82", index=1)
    assert (await send(http, sandbox, template(wa_id))).status_code == 200
    sandbox.world.clock.advance(5.9)
    assert_meta_error(await send(http, sandbox, template(wa_id)), 131056)
    assert (await send(http, sandbox, template(other))).status_code == 200, "other pairs free"
    sandbox.world.clock.advance(0.2)
    assert (await send(http, sandbox, template(wa_id))).status_code == 200


async def test_free_form_text_only_inside_the_24h_window(
    start_sandbox: Any, http: httpx.AsyncClient
) -> None:
    # Nobody answers service messages here: a simulated reply would reopen the window.
    sandbox = await start_sandbox(
        behaviour=BehaviourRates(reply_rate_service=0.0, inbound_per_customer_day=0.0)
    )
    wa_id, other = customer_in(sandbox, "82"), customer_in(sandbox, "82", index=1)
    assert_meta_error(await send(http, sandbox, text(wa_id)), 131047)
    # A template needs no window (and is sent to someone else: their reply would reopen it).
    assert (await send(http, sandbox, template(other))).status_code == 200
    await open_window(http, sandbox, wa_id)
    sandbox.world.clock.advance(6)
    assert (await send(http, sandbox, text(wa_id))).status_code == 200
    sandbox.world.clock.advance(24 * 3600 - 7)
    assert (await send(http, sandbox, text(wa_id))).status_code == 200, "still inside 24 h"
    sandbox.world.clock.advance(2)
    assert_meta_error(await send(http, sandbox, text(wa_id)), 131047)


async def test_undeliverable_number_is_131026(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    wa_id = customer_in(sandbox, "82")
    r = await http.post(f"{sandbox.base_url}/_sandbox/customers/{wa_id}", json={"reachable": False})
    assert r.json()["reachable"] is False
    assert_meta_error(await send(http, sandbox, template(wa_id)), 131026)
    unreachable = [c.wa_id for c in sandbox.world.population if not c.reachable]
    assert len(unreachable) >= 2, "the seeded population has numbers not on WhatsApp"


async def test_customer_who_stopped_marketing_gets_131050_for_marketing_only(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    wa_id = customer_in(sandbox, "82")
    await http.post(
        f"{sandbox.base_url}/_sandbox/customers/{wa_id}", json={"marketing_stopped": True}
    )
    promo = template(wa_id, name="spring_sale", params=("20%",))
    assert_meta_error(await send(http, sandbox, promo), 131050)
    assert (await send(http, sandbox, template(wa_id))).status_code == 200, "utility still goes"


async def test_per_user_marketing_limit_131049_outside_exempt_countries(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    brazil, korea = customer_in(sandbox, "55"), customer_in(sandbox, "82")
    for n in range(3):
        sandbox.world.clock.advance(7)
        r_br = await send(http, sandbox, template(brazil, name="spring_sale", params=("x",)))
        r_kr = await send(http, sandbox, template(korea, name="spring_sale", params=("x",)))
        assert r_kr.status_code == 200, "KR is exempt from the per-user cap"
        if n < 2:
            assert r_br.status_code == 200, r_br.text
        else:
            assert_meta_error(r_br, 131049)
    sandbox.world.clock.advance(24 * 3600)
    r = await send(http, sandbox, template(brazil, name="spring_sale", params=("x",)))
    assert r.status_code == 200, "the cap is a moving 24 h"


async def test_marketing_to_us_numbers_is_131049(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    us = customer_in(sandbox, "1")
    assert_meta_error(
        await send(http, sandbox, template(us, name="spring_sale", params=("x",))), 131049
    )
    assert (await send(http, sandbox, template(us))).status_code == 200


async def test_refused_sends_do_not_use_the_pair_rate(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    wa_id = customer_in(sandbox, "82")
    assert_meta_error(await send(http, sandbox, text(wa_id)), 131047)
    assert (await send(http, sandbox, template(wa_id))).status_code == 200


async def test_async_delivery_errors_mode_accepts_then_fails_by_webhook(
    start_sandbox: Any, http: httpx.AsyncClient
) -> None:
    server = await start_sandbox(async_delivery_errors=True)
    wa_id = customer_in(server, "82")
    r = await send(http, server, text(wa_id, biz_opaque_callback_data="c-1"))
    assert r.status_code == 200, "Meta may accept first and report 131047 by webhook"
    wamid = r.json()["messages"][0]["id"]
    server.world.clock.advance(5)
    await server.world.settle()
    [failed] = server.record.webhooks_for(wamid)
    assert failed.item["status"] == "failed"
    assert failed.item["errors"][0]["code"] == 131047
    assert failed.item["biz_opaque_callback_data"] == "c-1"


async def test_record_api_over_http(sandbox: SandboxServer, http: httpx.AsyncClient) -> None:
    wa_id = customer_in(sandbox, "82")
    await send(http, sandbox, text(wa_id))
    await send(http, sandbox, template(wa_id))
    body = (await http.get(f"{sandbox.base_url}/_sandbox/record")).json()
    assert [r["error_code"] for r in body["requests"]] == [131047, None]
    assert body["requests"][1]["phone_number_id"] == NUMBER_ID
    assert body["counts"]["accepted"] == 1


async def test_record_api_serves_only_new_requests_to_a_poller(
    sandbox: SandboxServer, http: httpx.AsyncClient
) -> None:
    wa_id = customer_in(sandbox, "82")
    for _ in range(3):
        await send(http, sandbox, template(wa_id))
    url = f"{sandbox.base_url}/_sandbox/record"
    everything = (await http.get(url, params={"only": "requests"})).json()
    assert list(everything) == ["requests"], "nothing but the requests"
    seqs = [r["seq"] for r in everything["requests"]]
    assert len(seqs) == 3 and seqs == sorted(seqs)
    newer = (await http.get(url, params={"only": "requests", "since_seq": seqs[1]})).json()
    assert [r["seq"] for r in newer["requests"]] == seqs[1:]
    after_last = {"only": "requests", "since_seq": seqs[-1] + 1}
    assert (await http.get(url, params=after_last)).json() == {"requests": []}
    await send(http, sandbox, template(wa_id))
    [fourth] = (await http.get(url, params=after_last)).json()["requests"]
    assert fourth["seq"] > seqs[-1]
