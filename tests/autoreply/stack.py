"""The auto-reply path end to end, as the integration test and bench/autoreply_latency.py use it.

    signed webhook POST ─► worker (ingest → wa.inbound.v1 → autoreply → commands → sender)
                       ─► sandbox: the reply's request, stamped on arrival (wall clock)

Meta opens a customer's 24 h service window when the customer writes; the sandbox learns it
from ``POST /_sandbox/inbound`` (it has no webhook target here, so nothing is posted back and
the only webhook the worker sees is the test's own). The reply's command id is
``autoreply-<inbound wamid>`` and the sender puts it in ``biz_opaque_callback_data``, so every
request in the sandbox's record names the inbound message that caused it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from pipeline.ingest.signature import SIGNATURE_HEADER, sign
from pipeline.runtime.broker import EmbeddedBroker
from pipeline.sandbox import SandboxConfig
from tests.sender.harness import RequestTail, SandboxProcess, worker_env
from tests.support.workers import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
RULES_PATH = ROOT / "infra" / "autoreply" / "rules.yaml"
APP_SECRET = b"wapipe-dev-app-secret"  # the worker's and the sandbox's dev default
WABA_ID = "102290129340398"
ROLES = "ingest,autoreply,sender"


def reply_id(inbound_wamid: str) -> str:
    """The command id (and callback data) of the reply to ``inbound_wamid``."""
    return f"autoreply-{inbound_wamid}"


def inbound_text_webhook(
    *, number_id: str, customer: str, wamid: str, text: str, ts_s: int
) -> dict[str, Any]:
    """One inbound text message, shaped like Meta's documented webhook."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": number_id},
        "contacts": [{"profile": {"name": "Customer"}, "wa_id": customer}],
        "messages": [
            {
                "from": customer,
                "id": wamid,
                "timestamp": str(ts_s),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def signed_body(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, app_secret=APP_SECRET),
    }
    return body, headers


def open_service_window(sandbox_url: str, *, customer: str, number_id: str) -> None:
    """The customer wrote to the business: Meta (the sandbox) now accepts free-form replies."""
    response = httpx.post(
        f"{sandbox_url}/_sandbox/inbound",
        json={"from": customer, "phone_number_id": number_id, "text": "hi"},
        timeout=30,
    )
    response.raise_for_status()


def start_sandbox(**config: Any) -> SandboxProcess:
    """The sandbox in its own process, posting no webhooks (the test is Meta's webhook)."""
    return SandboxProcess(SandboxConfig(callback_url=None, **config))


def autoreply_worker(
    broker: EmbeddedBroker,
    sandbox_url: str,
    data_dir: Path,
    *,
    app_id: str,
    roles: str = ROLES,
    **env: str,
) -> WorkerProcess:
    return WorkerProcess(
        bootstrap=broker.bootstrap_servers,
        data_dir=data_dir / app_id,
        app_id=app_id,
        roles=roles,
        env=worker_env(sandbox_url, WAPIPE_AUTOREPLY_RULES_PATH=str(RULES_PATH), **env),
    )


def wait_for_requests(
    sandbox: SandboxProcess, callback_ids: set[str], *, timeout_s: float
) -> dict[str, Any]:
    """The sandbox's first request for each callback id, once all of them arrived."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, Any] = {}
    tail = RequestTail(sandbox)
    while True:
        for request in tail.poll():
            key = request.biz_opaque_callback_data
            if key in callback_ids and key not in seen:
                seen[key] = request
        if len(seen) == len(callback_ids) or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)
