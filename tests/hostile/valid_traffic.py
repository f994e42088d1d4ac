"""Valid signed webhooks at a steady rate, measured: the traffic an attack must not harm."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.ingest import meta_examples as meta


@dataclass
class TrafficReport:
    sent: int = 0
    statuses: dict[int | str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def percentile_s(self, share: float) -> float:
        ordered = sorted(self.latencies_s)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def line(self, label: str) -> str:
        p50_ms, p99_ms = self.percentile_s(0.5) * 1000, self.percentile_s(0.99) * 1000
        return (
            f"{label}: {self.sent} valid POSTs, failures {self.failures}, "
            f"p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms"
        )


class ValidTraffic:
    """POSTs one signed single-message webhook every ``1 / rate_per_s`` seconds."""

    def __init__(self, url: str, *, app_secret: bytes, rate_per_s: float, tag: str) -> None:
        self.url = url
        self.app_secret = app_secret
        self.interval_s = 1.0 / rate_per_s
        self.tag = tag
        self.report = TrafficReport()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ValidTraffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as http:
            n = 0
            next_at = time.monotonic()
            while not self._stop.is_set():
                wamid = f"wamid.valid.{self.tag}.{n}"
                body, headers = meta.signed(
                    meta.envelope(meta.messages_value(meta.text_message(wamid))),
                    app_secret=self.app_secret,
                )
                started = time.monotonic()
                try:
                    status: int | str = http.post(
                        self.url, content=body, headers=headers
                    ).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.report.latencies_s.append(time.monotonic() - started)
                self.report.statuses[status] = self.report.statuses.get(status, 0) + 1
                self.report.sent += 1
                if status == 200:
                    self.report.ids.append(wamid)
                n += 1
                next_at += self.interval_s
                self._stop.wait(max(0.0, next_at - time.monotonic()))
