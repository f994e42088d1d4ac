"""`wapipe sandbox` serves the Cloud API (docker-compose runs it this way)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from pipeline.runtime.broker import free_port


def test_wapipe_sandbox_serves_the_cloud_api() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAPIPE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "sandbox", "--port", str(port), "--customers", "20"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/_sandbox/health", timeout=1).json()["ok"]:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        customer = httpx.get(base + "/_sandbox/customers?limit=1").json()["customers"][0]["wa_id"]
        sent = httpx.post(
            base + "/v24.0/106540352242922/messages",
            headers={"Authorization": "Bearer wapipe-sandbox-token"},
            json={
                "messaging_product": "whatsapp",
                "to": "+" + customer,
                "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}},
            },
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["messages"][0]["id"].startswith("wamid.")
        refused = httpx.post(
            base + "/v24.0/106540352242922/messages",
            headers={"Authorization": "Bearer wrong"},
            json={"messaging_product": "whatsapp"},
        )
        assert refused.json()["error"]["code"] == 190
    finally:
        proc.terminate()
        proc.wait(10)
