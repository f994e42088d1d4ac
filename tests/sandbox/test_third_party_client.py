"""An unmodified third-party Cloud API client (pywa) against the sandbox (issue 4, "Done when").

pywa builds ``https://graph.facebook.com/v…/{phone_id}/messages`` itself; its documented
``session=`` argument takes our httpx client, whose transport sends the same request to the
sandbox. pywa's own parsing then turns our answers into its success and error objects,
which is the proof that they are shaped like Meta's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pywa import WhatsApp as SyncWhatsApp
from pywa import errors as pywa_errors
from pywa.types.templates import BodyText, TemplateLanguage
from pywa_async import WhatsApp

from pipeline.sandbox import SandboxServer
from pipeline.sandbox.redirect import AsyncSandboxRedirectTransport, SandboxRedirectTransport
from tests.sandbox.conftest import NUMBER_ID, TOKEN, customer_in


def client(server: SandboxServer, token: str = TOKEN) -> WhatsApp:
    assert server.base_url is not None
    session = httpx.AsyncClient(transport=AsyncSandboxRedirectTransport(server.base_url))
    return WhatsApp(phone_id=NUMBER_ID, token=token, session=session)


async def test_pywa_sends_text_and_template_and_gets_metas_success_objects(
    sandbox: SandboxServer,
) -> None:
    wa = client(sandbox)
    wa_id = customer_in(sandbox, "82")
    sandbox.world.inject_inbound(NUMBER_ID, wa_id, "안녕하세요")
    sent = await wa.send_message(
        to="+" + wa_id, text="주문하신 상품이 발송되었습니다", tracker="t-1"
    )
    assert sent.id.startswith("wamid.") and sent.chat.id == wa_id and sent.input == "+" + wa_id
    [request] = sandbox.record.requests(accepted=True)
    assert request.wamid == sent.id and request.biz_opaque_callback_data == "t-1"

    sandbox.world.clock.advance(6)
    sent_template = await wa.send_template(
        to=wa_id,
        name="order_shipped",
        language=TemplateLanguage.ENGLISH_US,
        params=[BodyText.params("A-100", "tomorrow")],
    )
    assert sent_template.id.startswith("wamid.")
    assert sent_template.status.value.lower() == "accepted"


@pytest.mark.parametrize(
    ("kwargs", "error_class", "code"),
    [
        ({"name": "no_such_template"}, pywa_errors.TemplateNotExists, 132001),
        ({"name": "winter_promo"}, pywa_errors.TemplatePaused, 132015),
        ({"params_count": 1}, pywa_errors.TemplateParamCountMismatch, 132000),
    ],
)
async def test_pywa_raises_its_template_errors(
    sandbox: SandboxServer, kwargs: dict[str, Any], error_class: type, code: int
) -> None:
    wa = client(sandbox)
    params = [BodyText.params(*["x"] * kwargs.get("params_count", 1))]
    name = kwargs.get("name", "order_shipped")
    with pytest.raises(error_class) as caught:
        await wa.send_template(
            to=customer_in(sandbox, "82"),
            name=name,
            language=TemplateLanguage.ENGLISH_US,
            params=params,
        )
    assert caught.value.code == code and caught.value.fbtrace_id


async def test_pywa_raises_its_send_errors(sandbox: SandboxServer) -> None:
    wa = client(sandbox)
    wa_id = customer_in(sandbox, "82")
    with pytest.raises(pywa_errors.ReEngagementMessage) as outside:
        await wa.send_message(to=wa_id, text="hello?")
    assert outside.value.code == 131047 and "24 hours" in (outside.value.details or "")

    sandbox.world.inject_inbound(NUMBER_ID, wa_id, "hi")
    await wa.send_message(to=wa_id, text="hello")
    with pytest.raises(pywa_errors.TooManyMessages):  # 131056: pair rate
        await wa.send_message(to=wa_id, text="again")

    sandbox.world.set_reachable(wa_id, False)
    sandbox.world.clock.advance(7)
    with pytest.raises(pywa_errors.MessageUndeliverable):
        await wa.send_message(to=wa_id, text="are you there")


async def test_pywa_throughput_and_token_errors(start_sandbox: Any) -> None:
    server: SandboxServer = await start_sandbox(throughput_per_s=3.0)
    wa = client(server)
    customers = [c.wa_id for c in server.world.population if c.reachable][:4]
    for wa_id in customers[:3]:
        await wa.send_template(to=wa_id, name="hello_world", language=TemplateLanguage.ENGLISH_US)
    with pytest.raises(pywa_errors.RateLimitHit):
        await wa.send_template(
            to=customers[3], name="hello_world", language=TemplateLanguage.ENGLISH_US
        )
    with pytest.raises(pywa_errors.ExpiredAccessToken):  # pywa's class for code 190
        await client(server, token="nope").send_message(to=customers[0], text="x")


async def test_sync_pywa_through_the_sync_transport(sandbox: SandboxServer) -> None:
    assert sandbox.base_url is not None
    wa_id = customer_in(sandbox, "82")
    session = httpx.Client(transport=SandboxRedirectTransport(sandbox.base_url))
    wa = SyncWhatsApp(phone_id=NUMBER_ID, token=TOKEN, session=session)
    # The sync client blocks, so it runs in a thread while the sandbox serves on this loop.
    sent = await asyncio.to_thread(
        wa.send_template, to=wa_id, name="hello_world", language=TemplateLanguage.ENGLISH_US
    )
    assert sent.id == sandbox.record.requests(accepted=True)[0].wamid
    session.close()
