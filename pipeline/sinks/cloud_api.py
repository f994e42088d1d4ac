"""The Cloud API client of the sender: one pooled ``httpx.AsyncClient``, Meta's request shapes.

``message_payload`` and ``read_send_response`` are pure (tested without a network); the client
only moves bytes. Branch on the error body's numeric ``code``, never on the HTTP status
(whatsapp-cloud-api.md, "Sending"); the status is kept for classifying unknown codes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from pipeline.events import OutboundCommand
from pipeline.policy import TEMPLATE_KIND
from pipeline.sinks.aiohttp_transport import AiohttpTransport, answer_timeout
from pipeline.sinks.sender_config import SenderConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class SendAttempt:
    """What one POST came back with: a wamid, or an error code / HTTP status / timeout."""

    wamid: str | None = None
    error_code: int | None = None
    http_status: int | None = None
    timed_out: bool = False
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.wamid is not None


def message_payload(command: OutboundCommand) -> dict[str, Any]:
    """The JSON body of ``POST /{version}/{phone_number_id}/messages`` for ``command``."""
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+" + command.customer,
        # Echoed in every status webhook: how a crash-interrupted send is proven (docs/sender.md).
        "biz_opaque_callback_data": command.command_id,
    }
    if command.kind == TEMPLATE_KIND:
        template: dict[str, Any] = {
            "name": command.template_name,
            "language": {"code": command.template_language or "en_US"},
        }
        if command.template_params:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": p} for p in command.template_params],
                }
            ]
        payload["type"] = "template"
        payload["template"] = template
    else:
        payload["type"] = "text"
        payload["text"] = {"body": command.body or "", "preview_url": False}
    if command.reply_to_wamid:
        payload["context"] = {"message_id": command.reply_to_wamid}
    return payload


def json_body(payload: dict[str, Any]) -> bytes:
    """The request body, encoded as httpx's ``json=`` does (UTF-8, compact)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def read_send_response(http_status: int, body: bytes) -> SendAttempt:
    """Turn an HTTP answer into a :class:`SendAttempt`; total over any bytes."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        messages = doc.get("messages")
        if http_status < 300 and isinstance(messages, list) and messages:
            wamid = messages[0].get("id") if isinstance(messages[0], dict) else None
            if isinstance(wamid, str) and wamid:
                return SendAttempt(wamid=wamid, http_status=http_status)
        error = doc.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            return SendAttempt(
                error_code=code if isinstance(code, int) else None,
                http_status=http_status,
                detail=str(error.get("message", ""))[:200],
            )
    return SendAttempt(http_status=http_status, detail=f"unexpected answer (HTTP {http_status})")


# httpx logs every request at INFO: one formatted JSON line per send, and the URL names the
# business number. The sender logs what matters (retries, failures) itself.
logging.getLogger("httpx").setLevel(logging.WARNING)


def _http2_available() -> bool:
    try:
        import h2  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


class CloudApiClient:
    """Sends one message per call over a shared connection pool."""

    def __init__(
        self, config: SenderConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._config = config
        http2 = _http2_available() and config.base_url.startswith("https://")
        self._http2 = http2
        self._direct: AiohttpTransport | None = None
        if transport is None and not http2:
            # httpcore's HTTP/1.1 pool cost ~3x the CPU per send (aiohttp_transport.py), and
            # httpx's client layer above it as much again: sends go to aiohttp directly.
            transport = self._direct = AiohttpTransport(max_connections=config.http_connections)
        self._base_url = config.base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {config.access_token}",
            "Content-Type": "application/json",
        }
        self._timeout = answer_timeout(
            connect_s=min(5.0, config.http_timeout_s), read_s=config.http_timeout_s
        )
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            headers={"Authorization": f"Bearer {config.access_token}"},
            timeout=httpx.Timeout(config.http_timeout_s, connect=min(5.0, config.http_timeout_s)),
            limits=httpx.Limits(
                max_connections=config.http_connections,
                max_keepalive_connections=config.http_connections,
            ),
            # HTTP/2 multiplexes every send over one connection to Meta; it needs the h2
            # package and TLS (ALPN). The sandbox speaks HTTP/1.1, so the pool serves it.
            http2=http2,
            transport=transport,
        )

    @property
    def request_slots(self) -> int | None:
        """Requests that can be under way at once: one per connection over HTTP/1.1, no
        limit of ours over HTTP/2 (streams share a connection)."""
        return None if self._http2 else self._config.http_connections

    def path_for(self, command: OutboundCommand) -> str:
        return f"/{self._config.api_version}/{command.business_number_id}/messages"

    async def send(self, command: OutboundCommand) -> SendAttempt:
        try:
            if self._direct is not None:
                status, _, content = await self._direct.exchange(
                    "POST",
                    self._base_url + self.path_for(command),
                    headers=self._headers,
                    body=json_body(message_payload(command)),
                    timeout=self._timeout,
                )
            else:
                response = await self._http.post(
                    self.path_for(command), json=message_payload(command)
                )
                status, content = response.status_code, response.content
        except httpx.TimeoutException as exc:
            return SendAttempt(timed_out=True, detail=type(exc).__name__)
        except httpx.TransportError as exc:
            return SendAttempt(detail=f"no answer: {type(exc).__name__}")
        return read_send_response(status, content)

    async def aclose(self) -> None:
        await self._http.aclose()
