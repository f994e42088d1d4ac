"""A test worker is ready only when *its own* web server answers.

free_port() hands out a port that is free at that moment; under `pytest -n 3` another test's
server can bind it before the worker does, and the worker's readiness poll then gets that
server's answer (the scale-out test once read a 404 from /sql that way). WorkerProcess checks
in /proc that the answer came from its own process and otherwise moves to another port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from pipeline.runtime.broker import EmbeddedBroker
from tests.support.listeners import pid_listens_on, port_listeners
from tests.support.workers import PortTakenError, WorkerProcess

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="reads listeners from Linux's /proc"
)


class _Stranger(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stranger() -> Iterator[int]:
    """Another process's web server (a thread here is as good: a different listener)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stranger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_listeners_tell_which_process_holds_the_port(stranger: int) -> None:
    import os

    assert port_listeners(stranger)
    assert pid_listens_on(os.getpid(), stranger) is True
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_listens_on(child.pid, stranger) is False
    finally:
        child.kill()
        child.wait()
    with socket.socket() as unbound:
        unbound.bind(("127.0.0.1", 0))
        free = unbound.getsockname()[1]
    assert port_listeners(free) == set()


def _sender(broker: EmbeddedBroker, tmp_path: Path, app_id: str) -> WorkerProcess:
    return WorkerProcess(
        bootstrap=broker.bootstrap_servers, data_dir=tmp_path, app_id=app_id, roles="sender"
    )


@pytest.mark.broker
def test_worker_moves_off_a_port_another_server_took(
    broker: EmbeddedBroker, tmp_path: Path, stranger: int
) -> None:
    worker = _sender(broker, tmp_path, "port-taken")
    worker.web_port = stranger
    worker.start(timeout_s=60)
    try:
        assert worker.web_port != stranger
        assert worker.proc is not None and pid_listens_on(worker.proc.pid, worker.web_port)
        assert httpx.get(worker.url + "/").status_code == 200
    finally:
        worker.stop()


@pytest.mark.broker
def test_a_pinned_port_that_is_taken_is_an_error(
    broker: EmbeddedBroker, tmp_path: Path, stranger: int
) -> None:
    worker = _sender(broker, tmp_path, "port-pinned")
    worker.pin_port(stranger)
    with pytest.raises(PortTakenError, match=str(stranger)):
        worker.start(timeout_s=60)
    assert worker.proc is not None and worker.proc.poll() is not None
