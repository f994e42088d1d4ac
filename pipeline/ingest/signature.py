"""Webhook authenticity: Meta signs every POST body with the app secret (X-Hub-Signature-256).

The header is ``sha256=<hex>``, the HMAC-SHA256 of the raw body bytes keyed with the app
secret. It is checked before the body is parsed, in constant time, so a forged request costs
us one HMAC and reveals nothing through timing.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(body: bytes, *, app_secret: bytes) -> str:
    """The header value Meta would send for ``body``: ``sha256=<hex>``."""
    return _PREFIX + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def is_valid_signature(body: bytes, header: str | None, *, app_secret: bytes) -> bool:
    """True when ``header`` is the signature of ``body`` under ``app_secret``."""
    if not header or not header.startswith(_PREFIX):
        return False
    # Meta sends lowercase hex; accept either case, compare bytes in constant time.
    given = header[len(_PREFIX) :].strip().lower().encode("ascii", errors="replace")
    expected = hmac.new(app_secret, body, hashlib.sha256).hexdigest().encode("ascii")
    return hmac.compare_digest(given, expected)
