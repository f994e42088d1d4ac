"""The embedded default's WhatsApp: ``wapipe sandbox`` as a child process on loopback.

A separate process, not a task in the worker's loop: the sandbox simulates thousands of
customers and would otherwise compete with the pipeline for one interpreter. Like the broker
it dies with us (PR_SET_PDEATHSIG) and is stopped on every normal path.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import structlog

from pipeline.errors import RuntimeStartError
from pipeline.runtime.broker import _die_with_parent, free_port
from pipeline.runtime.child_process import spawn, stop_child

log = structlog.get_logger(__name__)


class SandboxProcess:
    def __init__(
        self,
        *,
        callback_url: str,
        purchases_url: str,
        customers: int = 1000,
        seed: int = 7,
        clock_speed: float = 1.0,
        port: int = 0,
        log_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.callback_url = callback_url
        self.purchases_url = purchases_url
        self.customers = customers
        self.seed = seed
        self.clock_speed = clock_speed
        self.log_dir = log_dir
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 30.0) -> str:
        args = [
            sys.executable,
            "-m",
            "pipeline.cli",
            "sandbox",
            "--port",
            str(self.port),
            "--callback-url",
            self.callback_url,
            "--purchases-url",
            self.purchases_url,
            "--customers",
            str(self.customers),
            "--seed",
            str(self.seed),
            "--clock-speed",
            str(self.clock_speed),
        ]
        log_path = self.log_dir / "sandbox.log" if self.log_dir is not None else None
        self._proc = spawn(args, log_path=log_path, env=self.env, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeStartError(
                    f"the WhatsApp sandbox exited at start (code {self._proc.returncode}); "
                    "see var/logs/sandbox.log"
                )
            try:
                if httpx.get(self.base_url + "/_sandbox/health", timeout=0.5).status_code == 200:
                    log.info("sandbox.started", base_url=self.base_url, customers=self.customers)
                    return self.base_url
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeStartError(f"the WhatsApp sandbox did not answer within {timeout_s:.0f}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        stop_child(proc, timeout_s=timeout_s)
        log.info("sandbox.stopped", pid=proc.pid)
