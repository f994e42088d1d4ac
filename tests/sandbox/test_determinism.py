"""Same seed → same population, same answers, same webhooks, byte for byte."""

from __future__ import annotations

from typing import Any

import httpx
from aiohttp import web

from pipeline.sandbox import PopulationSpec
from pipeline.sandbox.customers import Population
from tests.sandbox.conftest import T0, Callback, send, template, text


async def run_traffic(start_sandbox: Any, http: httpx.AsyncClient, seed: int) -> tuple[list, list]:
    cb = Callback()
    app = web.Application()
    app.router.add_post("/{tail:.*}", cb.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        server = await start_sandbox(
            seed=seed, callback_url=url + "/webhook", purchases_url=url + "/purchases"
        )
        customers = server.world.population.wa_ids()[:40]
        answers = []
        for step in range(3):
            for n, wa_id in enumerate(customers):
                body = (
                    template(wa_id, name="spring_sale", lang="ko_KR", params=("10%",))
                    if (n + step) % 2
                    else template(wa_id)
                    if n % 3
                    else text(wa_id)
                )
                r = await send(http, server, body)
                answers.append((r.status_code, r.json()))
            server.world.clock.advance(3600)
            await server.world.settle()
        server.world.clock.advance(8 * 86400)
        await server.world.settle()
        return answers, [body for _, body in cb.received]
    finally:
        await runner.cleanup()


async def test_same_seed_gives_same_traffic(start_sandbox: Any, http: httpx.AsyncClient) -> None:
    answers_a, posts_a = await run_traffic(start_sandbox, http, seed=5)
    answers_b, posts_b = await run_traffic(start_sandbox, http, seed=5)
    answers_c, posts_c = await run_traffic(start_sandbox, http, seed=6)
    assert len(posts_a) >= 3 and sum(map(len, posts_a)) > 10_000, (
        "the traffic should produce webhooks"
    )
    assert answers_a == answers_b, "same seed: same responses (wamids, fbtrace ids, errors)"
    assert posts_a == posts_b, "same seed: the same webhook and purchase bodies"
    assert answers_a != answers_c and posts_a != posts_c, "another seed: other traffic"


def test_same_seed_gives_same_population_and_histories() -> None:
    spec = PopulationSpec(size=300)
    a, b = Population(spec, seed=3, now_s=T0), Population(spec, seed=3, now_s=T0)
    assert a.wa_ids() == b.wa_ids()
    assert [p.payload() for p in a.histories()] == [p.payload() for p in b.histories()]
    other = Population(spec, seed=4, now_s=T0)
    assert other.wa_ids() != a.wa_ids()


def test_unknown_numbers_are_adopted_deterministically() -> None:
    spec = PopulationSpec(size=10)
    a, b = Population(spec, seed=3, now_s=T0), Population(spec, seed=3, now_s=T0)
    x, y = a.get_or_adopt("821099990000"), b.get_or_adopt("821099990000")
    assert (x.name, x.value_tier, x.reachable, x.utc_offset_h) == (
        y.name,
        y.value_tier,
        y.reachable,
        y.utc_offset_h,
    )
    assert x.utc_offset_h == 9.0 and x.currency == "KRW"
