"""Child processes the runtime and tests start: spawn with a log file, stop, kill, read logs.

One place for the life-cycle rules every child follows: it dies with its parent
(PR_SET_PDEATHSIG, see broker.py), its output goes to a log file or nowhere, a stop asks
first and kills after a grace period, and a kill is SIGKILL with nothing flushed.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def spawn(
    args: Sequence[str],
    *,
    log_path: Path | None,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``args`` with stdout and stderr appended to ``log_path`` (or discarded)."""
    if log_path is None:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=preexec_fn,
            env=env,
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=preexec_fn,
            env=env,
        )


def stop_child(
    proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout_s: float = 10.0
) -> int:
    """Send ``sig``, wait up to ``timeout_s``, then SIGKILL; return the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
    return int(proc.returncode)


def kill_child(proc: subprocess.Popen[bytes], *, timeout_s: float = 10.0) -> None:
    """SIGKILL: no commit, no flush, no goodbye (fault tests)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout_s)


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a child's log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"
