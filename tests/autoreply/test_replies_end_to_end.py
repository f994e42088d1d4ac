"""Keyword replies and opt-outs through the real path: a signed webhook POST to a worker
(ingest, autoreply, sender), the broker, and the sandbox's record of what reached "Meta"."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.agents.autoreply_rules import load_rules
from pipeline.events import ConsentChange, OutboundCommand, SendResult
from pipeline.runtime.broker import EmbeddedBroker
from pipeline.topics import COMMANDS, CONSENT, RESULTS, TopicSpec
from tests.autoreply.stack import (
    RULES_PATH,
    autoreply_worker,
    inbound_text_webhook,
    open_service_window,
    reply_id,
    signed_body,
    start_sandbox,
    wait_for_requests,
)
from tests.ingest.broker_reading import read_topic
from tests.sender.harness import SandboxProcess, command, produce_commands
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.broker

NUMBER_ID = "106540352242922"
WAIT_S = 60.0  # generous: the suite runs on two shared cores


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    box = start_sandbox()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def worker(
    broker: EmbeddedBroker, sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    proc = autoreply_worker(
        broker,
        sandbox.base_url,
        Path(tmp_path_factory.mktemp("autoreply")),
        app_id=f"autoreply-{uuid.uuid4().hex[:6]}",
    ).start()
    yield proc
    proc.stop()


def events(
    broker: EmbeddedBroker, spec: TopicSpec, *, until: Callable[[list[Any]], bool]
) -> list[Any]:
    """The topic's events from the beginning, once ``until`` holds (no consumer group: a
    group join on Tansu takes seconds)."""
    pairs = read_topic(
        broker.bootstrap_servers,
        spec.name,
        until=lambda s: until([e for _, e in s]),
        timeout_s=WAIT_S,
    )
    found = [e for _, e in pairs]
    assert until(found), f"{spec.name}: not there after {WAIT_S:.0f} s ({len(found)} events)"
    return found


def customer_writes(
    worker: WorkerProcess, sandbox: SandboxProcess, customer: str, text: str
) -> str:
    """The customer's message reaches Meta (window opens) and Meta's webhook reaches us."""
    open_service_window(sandbox.base_url, customer=customer, number_id=NUMBER_ID)
    wamid = f"wamid.test.{uuid.uuid4().hex}"
    body, headers = signed_body(
        inbound_text_webhook(
            number_id=NUMBER_ID, customer=customer, wamid=wamid, text=text, ts_s=int(time.time())
        )
    )
    response = httpx.post(worker.url + "/webhooks/whatsapp", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return wamid


def test_keywords_in_a_sentence_get_their_rule_reply(
    broker: EmbeddedBroker, sandbox: SandboxProcess, worker: WorkerProcess
) -> None:
    rules = load_rules(RULES_PATH)
    messages = {
        "821055500001": "안녕하세요 이번주할인코드있나요?",  # Korean, no spaces around 할인
        "821055500002": "有折扣吗",  # Chinese: no spaces at all
        "821055500003": "Is there a discount this week?",
        "821055500004": "thanks, that was all",  # no keyword: no reply
    }
    sent = {wa: customer_writes(worker, sandbox, wa, text) for wa, text in messages.items()}
    expected = {wa: rules.decide(text) for wa, text in messages.items()}
    answered = {reply_id(sent[wa]) for wa, verdict in expected.items() if verdict is not None}
    assert len(answered) == 3, "the rules file no longer has these keywords; pick others"

    arrived = wait_for_requests(sandbox, answered, timeout_s=WAIT_S)

    assert set(arrived) == answered, f"replies missing: {answered - set(arrived)}"
    for wa, wamid in sent.items():
        if expected[wa] is None:
            continue
        request = arrived[reply_id(wamid)]
        assert (request.wa_id, request.type, request.accepted) == (wa, "text", True)
    # The reply's text is the rule's, chosen by script and keyword.
    found = events(
        broker,
        COMMANDS,
        until=lambda ev: answered <= {c.command_id for c in ev if isinstance(c, OutboundCommand)},
    )
    bodies = {c.command_id: c for c in found if isinstance(c, OutboundCommand)}
    for wa, wamid in sent.items():
        verdict = expected[wa]
        if verdict is None:
            assert reply_id(wamid) not in bodies
            continue
        reply = bodies[reply_id(wamid)]
        assert (reply.body, reply.origin, reply.category) == (
            verdict.reply.text,
            "autoreply",
            "service",
        )
        assert reply.reply_to_wamid == wamid
    quiet = sent["821055500004"]
    assert not [r for r in sandbox.requests() if r.biz_opaque_callback_data == reply_id(quiet)]


def test_stop_opts_out_confirms_and_skips_later_marketing(
    broker: EmbeddedBroker, sandbox: SandboxProcess, worker: WorkerProcess
) -> None:
    bootstrap = broker.bootstrap_servers
    customer = "821055500010"
    wamid = customer_writes(worker, sandbox, customer, "STOP")

    changes = events(
        broker, CONSENT, until=lambda ev: any(c.event_id == f"keyword-{wamid}" for c in ev)
    )
    [change] = [c for c in changes if isinstance(c, ConsentChange) and c.customer == customer]
    assert (change.consent, change.source) == ("opted_out", "keyword")

    confirmation = wait_for_requests(sandbox, {reply_id(wamid)}, timeout_s=WAIT_S)
    assert [r.accepted for r in confirmation.values()] == [True]

    promo = command(customer, category="marketing", template_name="spring_sale", origin="campaign")
    produce_commands(bootstrap, [promo])
    results = events(
        broker, RESULTS, until=lambda ev: any(r.command_id == promo.command_id for r in ev)
    )
    [result] = [
        r for r in results if isinstance(r, SendResult) and r.command_id == promo.command_id
    ]
    assert (result.outcome, result.reason) == ("skipped", "opted-out")
    assert not [r for r in sandbox.requests() if r.biz_opaque_callback_data == promo.command_id]
