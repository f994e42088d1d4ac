"""Role ``ingest``: the webhook and purchase endpoints on the worker's web server.

    GET  /webhooks/whatsapp   Meta's verification handshake: 200 + challenge, else 403
    POST /webhooks/whatsapp   413 too large · 401 bad signature · 400 not JSON ·
                              503 broker did not ack · 200 every record acked
    POST /purchases           401 bad key · 413 · 400 · 503 · 200 all rows · 207 some rows bad
    GET  /metrics             counters (shared registry, pipeline.metrics)

Views only produce to topics: Faust allows table writes only inside agents (design.md §9).
The handlers are plain aiohttp handlers added to the router of Faust's web server rather than
Faust ``View`` classes: a View adds its dispatch and the monitor's per-request sensors, which
cost more CPU per webhook than the signature check (docs/benchmarks.md, Ingestion).
"""

from __future__ import annotations

import hmac
import json
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from pipeline import topics
from pipeline.app import WapipeApp
from pipeline.deadletter import make_dead_letter
from pipeline.errors import BrokerUnavailable, PayloadError
from pipeline.ingest.broker_acks import produce_acked
from pipeline.ingest.counters import LOG_EVERY_S, IngestCounters
from pipeline.ingest.purchases import RowError, parse_rows
from pipeline.ingest.signature import SIGNATURE_HEADER, is_valid_signature
from pipeline.ingest.webhook_parser import Outgoing, parse_webhook

log = structlog.get_logger(__name__)

WEBHOOK = "webhook"
PURCHASES = "purchases"
_CHUNK_BYTES = 64 * 1024


class BodyTooLarge(Exception):  # control flow inside this module only
    pass


async def read_body(request: web.Request, *, limit_bytes: int) -> bytes:
    """The raw body, refusing early (Content-Length) and while reading (chunked bodies)."""
    declared = request.content_length
    if declared is not None and declared > limit_bytes:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > limit_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def register(wapp: WapipeApp) -> None:
    settings = wapp.settings
    counters = IngestCounters(wapp)
    app_secret = settings.whatsapp_app_secret.get_secret_value().encode("utf-8")
    verify_token = settings.whatsapp_verify_token.get_secret_value().encode("utf-8")
    api_key = settings.purchases_api_key.get_secret_value().encode("utf-8")
    limit = settings.webhook_max_body_bytes
    timeout_s = settings.ingest_ack_timeout_s
    region = settings.default_region
    wapp.extras["ingest_counters"] = counters
    # Every POST waits for its acks, so a linger only adds latency (measured: ack p50 2.1 ms
    # with 1 ms, 0.6 ms with 0). Under load aiokafka still batches: records pile up while
    # the previous request to the broker is in flight.
    wapp.app.conf.producer_linger = 0.0

    async def produce(endpoint: str, records: list[Outgoing]) -> None:
        await produce_acked(
            wapp, records, source=endpoint, timeout_s=timeout_s, path=settings.ingest_produce
        )
        for record in records:
            counters.accepted.inc(endpoint=endpoint, topic=record.topic.name)
        counters.requests.inc(endpoint=endpoint)

    async def verify(request: web.Request) -> web.Response:
        query = request.query
        token = str(query.get("hub.verify_token", "")).encode("utf-8", "replace")
        challenge = query.get("hub.challenge")
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(token, verify_token):
            counters.refuse(WEBHOOK, "verify_token")
            return web.Response(text="forbidden", status=403)
        if not challenge:
            counters.refuse(WEBHOOK, "no_challenge")
            return web.Response(text="hub.challenge is missing", status=400)
        return web.Response(text=str(challenge))

    async def webhook(request: web.Request) -> web.Response:
        try:
            body = await read_body(request, limit_bytes=limit)
        except BodyTooLarge:
            counters.refuse(WEBHOOK, "too_large")
            return _json({"error": f"body larger than {limit} bytes"}, status=413)
        if not is_valid_signature(
            body, request.headers.get(SIGNATURE_HEADER), app_secret=app_secret
        ):
            counters.refuse(WEBHOOK, "signature")
            return _json({"error": f"missing or wrong {SIGNATURE_HEADER}"}, status=401)
        try:
            parsed = parse_webhook(body, received_ms=wapp.clock.now_ms())
        except PayloadError as exc:
            counters.refuse(WEBHOOK, "not_json")
            return _json({"error": exc.reason}, status=400)
        records = list(parsed.outgoing())
        try:
            await produce(WEBHOOK, records)
        except BrokerUnavailable as exc:
            counters.refuse(WEBHOOK, "broker_unavailable")
            return _json({"error": str(exc)}, status=503)
        if parsed.dead_letters:
            counters.dead_lettered.inc(len(parsed.dead_letters), endpoint=WEBHOOK)
        return _json({"accepted": len(parsed.events), "dead_lettered": len(parsed.dead_letters)})

    async def purchases(request: web.Request) -> web.Response:
        auth = str(request.headers.get("Authorization", "")).encode("utf-8", "replace")
        if not hmac.compare_digest(auth, b"Bearer " + api_key):
            counters.refuse(PURCHASES, "api_key")
            return _json(
                {"error": "send Authorization: Bearer <WAPIPE_PURCHASES_API_KEY>"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            body = await read_body(request, limit_bytes=limit)
        except BodyTooLarge:
            counters.refuse(PURCHASES, "too_large")
            return _json({"error": f"body larger than {limit} bytes"}, status=413)
        try:
            decoded: Any = json.loads(body, parse_float=Decimal)
        except (ValueError, RecursionError):
            counters.refuse(PURCHASES, "not_json")
            return _json({"error": "body is not JSON"}, status=400)
        if not isinstance(decoded, dict | list):
            counters.refuse(PURCHASES, "not_json")
            return _json({"error": "send one purchase object or a list"}, status=400)
        rows = decoded if isinstance(decoded, list) else [decoded]
        records: list[Outgoing] = []
        errors: list[dict[str, Any]] = []
        for row in parse_rows(enumerate(rows, 1), default_region=region, source="api"):
            if row.purchase is not None:
                records.append(Outgoing(topics.PURCHASES, row.purchase.customer, row.purchase))
            elif row.error is not None:
                errors.append({"line": row.line, "reason": row.error.reason})
                records.append(dead_letter_record(PURCHASES, row.error, wapp))
        try:
            await produce(PURCHASES, records)
        except BrokerUnavailable as exc:
            counters.refuse(PURCHASES, "broker_unavailable")
            return _json({"error": str(exc)}, status=503)
        if errors:
            counters.dead_lettered.inc(len(errors), endpoint=PURCHASES)
        return _json(
            {"accepted": len(records) - len(errors), "rejected": len(errors), "errors": errors},
            status=207 if errors else 200,
        )

    # Faust's default web driver is aiohttp; its Application takes plain routes too.
    web_app: web.Application = wapp.app.web.web_app  # type: ignore[attr-defined]
    router = web_app.router
    router.add_get("/webhooks/whatsapp", verify)
    router.add_post("/webhooks/whatsapp", webhook)
    router.add_post("/purchases", purchases)

    @wapp.app.timer(interval=LOG_EVERY_S)
    async def log_ingest_counters() -> None:
        counters.log_totals()


def _json(value: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(value, separators=(",", ":")).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def dead_letter_record(source: str, error: RowError, wapp: WapipeApp) -> Outgoing:
    letter = make_dead_letter(
        source=source,
        reason=f"line {error.line}: {error.reason}",
        raw=error.raw,
        ts_ms=wapp.clock.now_ms(),
    )
    return Outgoing(topics.DEADLETTER, source, letter)
