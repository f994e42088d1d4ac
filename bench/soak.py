"""Soak: the whole pipeline under sandbox traffic at a steady rate, watched minute by minute.

A worker with every role (`wapipe run` in a child process) on the embedded broker and chDB,
the sandbox in its own process with its callbacks pointed at the worker (so its simulated
customers' statuses, replies and purchases flow back in), and a steady load: customers
writing first (through the sandbox's /_sandbox/inbound) and utility sends produced as
commands. Each minute prints consumer lag, the worker's RSS and events stored per second.

Pass: RSS at the end is less than 10% above RSS after the warm-up, which lasts
--warmup-minutes and at least until every simulated customer has been touched once.

    .venv/bin/python bench/soak.py                # 10 minutes
    .venv/bin/python bench/soak.py --minutes 3 --rate 20
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Producer

from pipeline.runtime.broker import CONFLUENT_PRODUCER_DEFAULTS, EmbeddedBroker, free_port
from pipeline.runtime.kafka_admin import ensure_topics, topic_offsets
from pipeline.runtime.sandbox_process import SandboxProcess
from pipeline.schemas.codec import AvroEventCodec
from pipeline.topics import ALL_TOPICS, COMMANDS
from tests.sender.harness import command
from tests.support.workers import WorkerProcess

PARTITIONS = 4
GROWTH_LIMIT = 0.10
STORED = (
    "SELECT (SELECT count() FROM inbound_messages) + (SELECT count() FROM message_status)"
    " + (SELECT count() FROM purchases) + (SELECT count() FROM outbound_messages)"
    " + (SELECT count() FROM tag_changes)"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def total_lag(bootstrap: str, app_id: str) -> int:
    names = [spec.name for spec in ALL_TOPICS]
    lag = 0
    for group in (app_id, f"{app_id}-clickhouse-sink"):
        for offsets in topic_offsets(bootstrap, names, group_id=group):
            lag += offsets.lag or 0
    return lag


class Load:
    """``rate_per_s`` actions a second: 3 of 4 a customer writing first, 1 of 4 a send."""

    def __init__(
        self, *, sandbox_url: str, bootstrap: str, customers: list[str], rate_per_s: float
    ):
        self.sandbox_url = sandbox_url
        self.bootstrap = bootstrap
        self.customers = customers
        self.interval_s = 1.0 / rate_per_s
        self.stop = threading.Event()
        self.done = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def every_customer_touched(self) -> bool:
        return self.done >= len(self.customers)

    def _run(self) -> None:
        who = itertools.cycle(self.customers)
        n = 0
        next_at = time.monotonic()
        codec = AvroEventCodec()
        # One producer for the whole soak: a producer per send was the load's own bottleneck.
        producer = Producer({"bootstrap.servers": self.bootstrap, **CONFLUENT_PRODUCER_DEFAULTS})
        with httpx.Client(base_url=self.sandbox_url, timeout=10) as http:
            while not self.stop.is_set():
                customer = next(who)
                if n % 4 == 3:
                    c = command(customer, command_id=f"soak-{n}")
                    producer.produce(
                        COMMANDS.name, key=c.business_number_id.encode(), value=codec.encode(c)
                    )
                    producer.poll(0)
                else:
                    http.post("/_sandbox/inbound", json={"from": customer, "text": "hello"})
                n += 1
                self.done = n
                next_at += self.interval_s
                self.stop.wait(max(0.0, next_at - time.monotonic()))
        producer.flush(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="load actions per second")
    # Memory rises by design until every simulated customer has been seen once (per-customer
    # state) and chDB's caches are warm (about 50 MB over 2–3 min in a chDB-only loop here);
    # the warm-up lasts at least this long and until every customer was touched.
    parser.add_argument("--warmup-minutes", type=float, default=3.0)
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="wapipe-soak-"))
    app_id = f"soak-{uuid.uuid4().hex[:6]}"
    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap_servers
        ensure_topics(bootstrap, ALL_TOPICS, partitions=PARTITIONS, replication=1)
        web_port = free_port()
        web = f"http://127.0.0.1:{web_port}"
        sandbox = SandboxProcess(
            callback_url=f"{web}/webhooks/whatsapp",
            purchases_url=f"{web}/purchases",
            customers=args.customers,
            log_dir=data_dir / "logs",
        )
        base_url = sandbox.start()
        worker = WorkerProcess(
            bootstrap=bootstrap,
            data_dir=data_dir,
            app_id=app_id,
            partitions=PARTITIONS,
            env={"WAPIPE_WHATSAPP_API_BASE_URL": base_url, "WAPIPE_LOG_LEVEL": "warning"},
        )
        worker.web_port = web_port
        try:
            worker.start(timeout_s=120)
            assert worker.proc is not None
            customers = [
                c["wa_id"]
                for c in httpx.get(
                    f"{base_url}/_sandbox/customers", params={"limit": args.customers}, timeout=30
                ).json()["customers"]
                if c.get("reachable", True)
            ]
            load = Load(
                sandbox_url=base_url, bootstrap=bootstrap, customers=customers, rate_per_s=args.rate
            )
            load.thread.start()
            pid = worker.proc.pid
            print(f"soak: {args.minutes:g} min at {args.rate:g} actions/s, worker pid {pid}")
            columns = ("min", "lag", "rss MB", "stored/s", "load done", "loadavg")
            print(" ".join(f"{c:>9}" for c in columns))
            samples: list[tuple[float, float]] = []
            warm_from: int | None = None
            stored_before = 0
            started = time.monotonic()
            minute = 0
            while minute < args.minutes:
                minute += 1
                time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
                stored = int(
                    httpx.post(worker.url + "/sql", content=STORED.encode(), timeout=60).json()[
                        "rows"
                    ][0][0]
                )
                rss = rss_mb(worker.proc.pid)
                samples.append((minute, rss))
                # Warm-up ends once every simulated customer has been touched: until then each
                # new customer adds per-customer state (tags, windows, views) by design.
                if (
                    warm_from is None
                    and minute >= args.warmup_minutes
                    and load.every_customer_touched
                ):
                    warm_from = minute
                lag = total_lag(bootstrap, app_id)
                print(
                    f"{minute:>9} {lag:>9,} {rss:>9.0f} {(stored - stored_before) / 60:>9.1f} "
                    f"{load.done:>9,} {os.getloadavg()[0]:>9.1f}",
                    flush=True,
                )
                stored_before = stored
            load.stop.set()
            load.thread.join(30)
        finally:
            worker.stop()
            sandbox.stop()
    after_warmup = [rss for m, rss in samples if warm_from is not None and m >= warm_from]
    if len(after_warmup) < 2:
        print(
            "soak: too short to judge memory (needs two samples after the warm-up, which ends"
            " once every customer has been touched; try fewer --customers or more --minutes)"
        )
        return 2
    growth = after_warmup[-1] / after_warmup[0] - 1
    per_minute = (after_warmup[-1] - after_warmup[0]) / (len(after_warmup) - 1)
    verdict = "PASS" if growth < GROWTH_LIMIT else "FAIL"
    print(
        f"soak: RSS {after_warmup[0]:.0f} MB after warm-up (minute {warm_from}) ->"
        f" {after_warmup[-1]:.0f} MB at the end ({growth:+.1%}, limit +{GROWTH_LIMIT:.0%},"
        f" {per_minute:+.1f} MB/min): {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
