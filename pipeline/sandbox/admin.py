"""``/_sandbox/…``: endpoints that steer the simulation (tests, demos, the embedded runtime).

None of these exist on Meta's side; they let a test set up a customer's state (open a
service window, make a number undeliverable, pause a template) and read the record.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pipeline.sandbox.send_request import normalise_wa_id
from pipeline.sandbox.templates import Template, TemplateCategory, TemplateStatus
from pipeline.sandbox.world import SandboxWorld

WORLD_KEY: web.AppKey[SandboxWorld] = web.AppKey("sandbox_world", SandboxWorld)


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/health", _health)
    app.router.add_get("/_sandbox/record", _record)
    app.router.add_get("/_sandbox/customers", _customers)
    app.router.add_post("/_sandbox/inbound", _inbound)
    app.router.add_post("/_sandbox/customers/{wa_id}", _customer_state)
    app.router.add_post("/_sandbox/templates", _template)
    app.router.add_post("/_sandbox/clock", _clock)
    app.router.add_post("/_sandbox/config", _config)
    app.router.add_post("/_sandbox/history/publish", _publish_history)
    app.router.add_post("/_sandbox/settle", _settle)


def _bad(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=400)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "send a JSON object"}') from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "send a JSON object"}')
    return body


async def _health(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    return web.json_response(
        {
            "ok": True,
            "sim_time_s": world.clock.now_s(),
            "clock_speed": world.clock.speed,
            "pending_actions": len(world.scheduler),
        }
    )


async def _record(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    since = int(request.query.get("since_seq", "0"))
    limit = int(request.query.get("limit", "1000"))
    wamid = request.query.get("wamid")
    if wamid:
        items = [
            {"kind": r.kind, "at_s": r.at_s, "item": r.item, "post_id": r.post_id}
            for r in world.record.webhooks_for(wamid)
        ]
        return web.json_response({"wamid": wamid, "webhooks": items})
    if request.query.get("only") == "requests":
        return web.json_response(
            {"requests": world.record.requests_json(since_seq=since, limit=limit)}
        )
    return web.json_response(world.record.as_json(since_seq=since, limit=limit))


async def _customers(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    limit = int(request.query.get("limit", "100000"))
    out = []
    for customer in list(world.population)[:limit]:
        out.append(
            {
                "wa_id": customer.wa_id,
                "name": customer.name,
                "language": customer.language,
                "utc_offset_h": customer.utc_offset_h,
                "value_tier": customer.value_tier,
                "archetype": customer.archetype,
                "reachable": customer.reachable,
                "marketing_stopped": customer.marketing_stopped,
                "orders": len(customer.history),
            }
        )
    return web.json_response({"customers": out})


async def _inbound(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    body = await _json(request)
    wa_id = normalise_wa_id(body.get("from"))
    if wa_id is None:
        return _bad("'from' must be a phone number (E.164, with or without +)")
    number_id = str(body.get("phone_number_id") or world.config.business_numbers[0].phone_number_id)
    try:
        wamid = world.inject_inbound(number_id, wa_id, str(body.get("text", "hi")))
    except KeyError:
        return _bad(f"unknown phone_number_id {number_id}: configure it or enable auto-register")
    return web.json_response({"id": wamid, "wa_id": wa_id})


async def _customer_state(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    wa_id = normalise_wa_id(request.match_info["wa_id"])
    if wa_id is None:
        return _bad("the path must end in a phone number")
    body = await _json(request)
    if "reachable" in body:
        world.set_reachable(wa_id, bool(body["reachable"]))
    if "marketing_stopped" in body:
        world.set_marketing(wa_id, stopped=bool(body["marketing_stopped"]))
    customer = world.population.get_or_adopt(wa_id)
    return web.json_response(
        {
            "wa_id": wa_id,
            "reachable": customer.reachable,
            "marketing_stopped": customer.marketing_stopped,
        }
    )


async def _template(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    body = await _json(request)
    try:
        template = Template(
            name=str(body["name"]),
            language=str(body["language"]),
            category=TemplateCategory(str(body.get("category", "marketing")).lower()),
            status=TemplateStatus(str(body.get("status", "APPROVED")).upper()),
            body_parameter_count=int(body.get("body_parameter_count", 0)),
            has_media_header=bool(body.get("has_media_header", False)),
        )
    except (KeyError, ValueError) as exc:
        return _bad(f"template needs name, language and valid category/status: {exc}")
    world.templates.put(template)
    return web.json_response(
        {"name": template.name, "language": template.language, "status": template.status.value}
    )


async def _clock(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    body = await _json(request)
    try:
        if "set_s" in body:
            world.clock.set(float(body["set_s"]))
        if "advance_s" in body:
            world.clock.advance(float(body["advance_s"]))
        if "speed" in body:
            world.clock.set_speed(float(body["speed"]))
    except ValueError as exc:
        return _bad(str(exc))
    return web.json_response({"sim_time_s": world.clock.now_s(), "speed": world.clock.speed})


async def _config(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    body = await _json(request)
    if "callback_url" in body:
        world.callback_url = body["callback_url"] or None
    if "purchases_url" in body:
        world.purchases_url = body["purchases_url"] or None
    return web.json_response(
        {"callback_url": world.callback_url, "purchases_url": world.purchases_url}
    )


async def _publish_history(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    return web.json_response({"orders": world.publish_history()})


async def _settle(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    await world.settle()
    return web.json_response({"ok": True})
