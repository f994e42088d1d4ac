"""Run real wapipe workers as subprocesses, so tests can SIGKILL and restart them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from pipeline.runtime.broker import free_port
from pipeline.runtime.child_process import kill_child, log_tail, spawn, stop_child
from tests.support.listeners import pid_listens_on


class PortTakenError(RuntimeError):
    """Another process listens on the port the worker was given."""


class WorkerProcess:
    """``wapipe run`` in a child process against a given broker and data directory."""

    def __init__(
        self,
        *,
        bootstrap: str,
        data_dir: Path,
        app_id: str,
        roles: str | None = None,
        env: Mapping[str, str] | None = None,
        partitions: int = 4,
        module: str = "pipeline.cli",
    ) -> None:
        self.bootstrap = bootstrap
        self.module = module  # run as ``python -m <module> run``: a test may wrap the CLI
        self.data_dir = data_dir
        self.app_id = app_id
        self.roles = roles
        self.extra_env = dict(env or {})
        self.partitions = partitions
        self.web_port = free_port()
        # A port from free_port() is only free until someone binds it: under pytest -n
        # another test's server can take it before this worker does. Unless a caller pins
        # the port (a restart keeps its webhook URL), start() then moves to a new one.
        self.port_pinned = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"worker-{app_id}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAPIPE_")}
        env.update(
            {
                "WAPIPE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "WAPIPE_DATA_DIR": str(self.data_dir),
                "WAPIPE_APP_ID": self.app_id,
                "WAPIPE_WEB_PORT": str(self.web_port),
                "WAPIPE_KAFKA_PARTITIONS": str(self.partitions),
                "WAPIPE_LOG_FORMAT": "json",
                "WAPIPE_SINK_BATCH_SECONDS": "0.2",
            }
        )
        env.update(self.extra_env)
        return env

    def pin_port(self, port: int) -> None:
        self.web_port = port
        self.port_pinned = True

    def start(self, *, timeout_s: float = 60.0, port_attempts: int = 3) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", self.module, "run"]
        if self.roles:
            args += ["--roles", self.roles]
        for attempt in range(1, port_attempts + 1):
            self.proc = spawn(args, log_path=self.log_path, env=self.env())
            try:
                self.wait_ready(timeout_s=timeout_s)
                return self
            except PortTakenError:
                kill_child(self.proc)
                if self.port_pinned or attempt == port_attempts:
                    raise
                self.web_port = free_port()
        raise AssertionError("unreachable")

    def wait_ready(self, *, timeout_s: float) -> None:
        """Until this worker's own web server answers: an answer from a process that took
        the port first (another test's server) is not readiness."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                answered = httpx.get(self.url + "/", timeout=0.5).status_code < 500
            except httpx.HTTPError:
                answered = False
            if answered and self.proc is not None:
                owner = pid_listens_on(self.proc.pid, self.web_port)
                if owner is None or owner:
                    return
                raise PortTakenError(f"another process answered on port {self.web_port}")
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready in {timeout_s}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to commit, flush or say goodbye."""
        if self.proc is not None:
            kill_child(self.proc)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        return None if self.proc is None else stop_child(self.proc, timeout_s=timeout_s)
