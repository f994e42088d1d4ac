"""Structured logs: JSON lines in production, readable on a terminal, never a secret or phone.

Masking is a processor, so it applies to every logger (ours, Faust's and aiokafka's through
the stdlib bridge) and cannot be forgotten at a call site.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog

#: Keys whose values are secrets: dropped, whatever their content.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "token",
        "app_secret",
        "secret",
        "password",
        "authorization",
        "api_key",
        "verify_token",
        "purchases_api_key",
        "whatsapp_access_token",
        "whatsapp_app_secret",
    }
)
#: Keys whose values are phone numbers / WhatsApp ids: masked to their last 4 digits.
PHONE_KEYS = frozenset({"customer", "to", "from", "wa_id", "recipient_id", "phone", "msisdn"})

# 8+ digit runs with an optional '+': E.164 numbers are 8–15 digits. Kept conservative so
# ordinary counts and timestamps (≤ 13 digits, but never in free text about people) survive
# in structured fields, which are not scanned by this pattern.
_PHONE_IN_TEXT = re.compile(r"(?<![\w.])\+?\d{8,15}(?![\w.])")


def mask_phone(value: str) -> str:
    """``"821012345678"`` → ``"********5678"``: enough to correlate, not to contact."""
    digits = value.lstrip("+")
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def _mask_text(text: str) -> str:
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop secrets, mask phone numbers in known keys and in free text."""
    for key in list(event_dict):
        lowered = key.lower()
        value = event_dict[key]
        if lowered in SECRET_KEYS or lowered.endswith(("_secret", "_token", "_password")):
            event_dict[key] = "[redacted]"
        elif lowered in PHONE_KEYS and isinstance(value, str | int):
            event_dict[key] = mask_phone(str(value))
        elif isinstance(value, str) and key != "timestamp":
            event_dict[key] = _mask_text(value)
    return event_dict


def configure_logging(
    *, fmt: str = "auto", level: str = "info", log_file: Path | None = None
) -> None:
    """Configure structlog and route stdlib logging (Faust, aiokafka) through it.

    ``log_file`` sends every line to that file (JSON) instead of the terminal: the demo's
    progress bars own the terminal.
    """
    use_json = fmt == "json" or log_file is not None or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "mode", "faust"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
