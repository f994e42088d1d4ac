"""Run the counter app of :mod:`tests.broker.faust_counter_app` as a real worker process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipeline.runtime.broker import free_port
from pipeline.runtime.child_process import kill_child, log_tail, stop_child

REPO = Path(__file__).resolve().parents[2]


class CounterWorker:
    """One Faust worker process; SIGKILL it and start another with the same app id."""

    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        app_id: str,
        data_dir: Path,
        partitions: int,
        module: str = "tests.broker.faust_counter_app",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.args = [bootstrap, topic, app_id, "0", str(data_dir), str(partitions), *extra_args]
        self.module = module
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.web_port = 0
        self.log_path = data_dir / f"{app_id}.log"

    def start(self) -> CounterWorker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.web_port = free_port()
        self.args[3] = str(self.web_port)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=REPO,
                stdout=log,
                stderr=log,
            )
        return self

    def status(self) -> dict[str, object] | None:
        """The worker's /counts answer, or None while its web server is not up."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            reply = httpx.get(f"http://127.0.0.1:{self.web_port}/counts", timeout=2.0)
        except httpx.HTTPError:
            return None
        return reply.json() if reply.status_code == 200 else None  # type: ignore[no-any-return]

    def wait_recovered(self, *, limit_s: float) -> float:
        """Seconds until the worker owns its partitions with its tables recovered."""
        started = time.monotonic()
        while time.monotonic() - started < limit_s:
            status = self.status()
            if status and status["recovered"] and not status["rebalancing"]:
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(
            f"worker not recovered after {limit_s}s (status {self.status()}):\n{self.log_tail()}"
        )

    def wait_counts(self, expected: dict[str, int], *, limit_s: float) -> dict[str, int]:
        """Poll until the table equals ``expected``; return the last counts seen."""
        deadline = time.monotonic() + limit_s
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            status = self.status()
            counts = dict(status["counts"]) if status else counts  # type: ignore[call-overload]
            if counts == expected:
                return counts
            time.sleep(0.2)
        return counts

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)

    def kill(self) -> None:
        """SIGKILL: no commit, no flush, no LeaveGroup."""
        if self.proc is not None:
            kill_child(self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc, timeout_s=20)
