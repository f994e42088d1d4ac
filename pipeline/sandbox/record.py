"""A queryable record of what the sandbox received and what it emitted.

Tests ask it questions ("which code did request 12 get?", "which webhooks did wamid X
produce, and were they delivered?"); ``GET /_sandbox/record`` serves the same data as JSON.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True, kw_only=True)
class RequestRecord:
    seq: int
    at_s: float  # the sandbox's (simulated) clock: what the rate and window rules see
    # Wall-clock arrival (Unix seconds), stamped when the handler starts: latency benchmarks
    # compare it with the sender's own wall clock, whatever the simulated clock's speed.
    received_unix_s: float = 0.0
    phone_number_id: str
    http_status: int
    error_code: int | None = None
    wamid: str | None = None
    wa_id: str | None = None
    to: str | None = None
    type: str | None = None
    template: str | None = None
    category: str | None = None
    biz_opaque_callback_data: str | None = None
    fbtrace_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.error_code is None


@dataclass(slots=True, kw_only=True)
class EmittedRecord:
    """One update put into a webhook (a status, an inbound message, a preference change)."""

    kind: str  # "status" | "message" | "user_preferences"
    wamid: str | None  # the outbound message it is about (status, reply context)
    at_s: float
    item: dict[str, Any]
    post_id: int | None = None


@dataclass(slots=True, kw_only=True)
class PostRecord:
    post_id: int
    target: str  # "webhook" | "purchases"
    url: str | None
    item_count: int
    body_bytes: int
    attempts: list[int | str] = field(default_factory=list)  # HTTP status or error name
    delivered: bool = False


class SandboxRecord:
    """Append-only, in memory; bounded by ``max_requests`` so long demos do not grow forever."""

    def __init__(self, *, max_requests: int = 1_000_000) -> None:
        self._requests: deque[RequestRecord] = deque(maxlen=max_requests)
        self._emitted: list[EmittedRecord] = []
        self._by_wamid: dict[str, list[EmittedRecord]] = {}
        self._posts: dict[int, PostRecord] = {}
        self._purchases: list[dict[str, Any]] = []

    # --- writers (the sandbox) ---------------------------------------------------------------
    def add_request(self, record: RequestRecord) -> None:
        self._requests.append(record)

    def add_emitted(self, record: EmittedRecord) -> None:
        self._emitted.append(record)
        if record.wamid is not None:
            self._by_wamid.setdefault(record.wamid, []).append(record)

    def add_post(self, record: PostRecord) -> None:
        self._posts[record.post_id] = record

    def add_purchase(self, payload: dict[str, Any]) -> None:
        self._purchases.append(payload)

    # --- readers (tests, the admin API) ------------------------------------------------------
    def requests(
        self,
        *,
        error_code: int | None = None,
        accepted: bool | None = None,
        wa_id: str | None = None,
    ) -> list[RequestRecord]:
        out = list(self._requests)
        if error_code is not None:
            out = [r for r in out if r.error_code == error_code]
        if accepted is not None:
            out = [r for r in out if r.accepted is accepted]
        if wa_id is not None:
            out = [r for r in out if r.wa_id == wa_id]
        return out

    def webhooks_for(self, wamid: str) -> list[EmittedRecord]:
        """Statuses of an outbound message and the customer's replies to it, in order."""
        return list(self._by_wamid.get(wamid, ()))

    def statuses_for(self, wamid: str) -> list[str]:
        return [r.item["status"] for r in self.webhooks_for(wamid) if r.kind == "status"]

    def emitted(self, *, kind: str | None = None) -> list[EmittedRecord]:
        return [r for r in self._emitted if kind is None or r.kind == kind]

    def posts(self, *, target: str | None = None) -> list[PostRecord]:
        return [p for p in self._posts.values() if target is None or p.target == target]

    def post(self, post_id: int) -> PostRecord | None:
        return self._posts.get(post_id)

    def purchases(self) -> list[dict[str, Any]]:
        return list(self._purchases)

    def requests_json(self, *, since_seq: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Requests from ``since_seq`` on: a poller that passes the last seq it saw + 1 is
        served only what is new, however long the record."""
        newer: list[RequestRecord] = []
        for r in reversed(self._requests):  # seqs only grow: walk back to the first old one
            if r.seq < since_seq:
                break
            newer.append(r)
        newer.reverse()
        return [{**asdict(r), "accepted": r.accepted} for r in newer[:limit]]

    def as_json(self, *, since_seq: int = 0, limit: int = 1000) -> dict[str, Any]:
        return {
            "requests": self.requests_json(since_seq=since_seq, limit=limit),
            "emitted": [asdict(r) for r in self._emitted[-limit:]],
            "posts": [asdict(p) for p in list(self._posts.values())[-limit:]],
            "purchases": self._purchases[-limit:],
            "counts": {
                "requests": len(self._requests),
                "accepted": sum(1 for r in self._requests if r.accepted),
                "emitted": len(self._emitted),
                "posts": len(self._posts),
                "purchases": len(self._purchases),
            },
        }
