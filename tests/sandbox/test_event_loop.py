"""The standalone sandbox runs on uvloop (``wapipe sandbox``): the same answers as on asyncio."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys

import httpx
import pytest

from pipeline import event_loop
from pipeline.runtime.gc_tuning import GC_GEN0_THRESHOLD
from pipeline.sandbox import PopulationSpec, SandboxConfig, SandboxServer
from pipeline.sandbox.server import tune_gc_for_serving

from .conftest import NUMBER_ID, TOKEN

pytest.importorskip("uvloop")


def _send_once() -> tuple[str, int, str]:
    async def main() -> tuple[str, int, str]:
        config = SandboxConfig(access_token=TOKEN, population=PopulationSpec(size=50))
        async with SandboxServer(config) as sandbox:
            customer = next(c.wa_id for c in sandbox.world.population if c.reachable)
            async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
                r = await http.post(
                    f"/v24.0/{NUMBER_ID}/messages",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    json={
                        "messaging_product": "whatsapp",
                        "to": customer,
                        "type": "template",
                        "template": {"name": "hello_world", "language": {"code": "en_US"}},
                    },
                )
            loop = event_loop.loop_name(asyncio.get_running_loop())
            return loop, r.status_code, r.json()["messages"][0]["id"]

    return event_loop.run(main(), choice="uvloop")


def test_the_sandbox_answers_on_uvloop_as_on_asyncio() -> None:
    loop, status, wamid = _send_once()
    assert loop == "uvloop"
    assert status == 200
    assert wamid.startswith("wamid.")


def test_loop_choice_falls_back_to_asyncio() -> None:
    assert event_loop.loop_factory("asyncio") is asyncio.new_event_loop
    assert event_loop.loop_factory("no-such-loop") is asyncio.new_event_loop
    loop = event_loop.loop_factory("uvloop")()
    try:
        assert event_loop.loop_name(loop) == "uvloop"
    finally:
        loop.close()


def test_gc_tuning_freezes_what_exists_and_enlarges_the_young_generation() -> None:
    before = gc.get_threshold()
    try:
        tune_gc_for_serving()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_install_policy_gives_code_outside_a_loop_a_uvloop_main_loop() -> None:
    # A fresh interpreter: the policy is process-wide, as in `wapipe run`.
    script = (
        "import asyncio\n"
        "from pipeline import event_loop\n"
        "print(event_loop.install_policy('uvloop'))\n"
        "print(event_loop.loop_name(asyncio.get_event_loop()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["uvloop", "uvloop"]
