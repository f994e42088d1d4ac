"""X-Hub-Signature-256: HMAC-SHA256 of the raw body with the app secret."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.signature import is_valid_signature, sign

SECRET = b"app-secret"


def test_sign_matches_a_hand_computed_hmac() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert sign(body, app_secret=SECRET) == "sha256=" + expected


def test_valid_signature_is_accepted_in_either_hex_case() -> None:
    body = b"{}"
    header = sign(body, app_secret=SECRET)
    assert is_valid_signature(body, header, app_secret=SECRET)
    assert is_valid_signature(body, "sha256=" + header[7:].upper(), app_secret=SECRET)


def test_missing_malformed_and_wrong_signatures_are_refused() -> None:
    body = b"{}"
    good = sign(body, app_secret=SECRET)
    for header in (None, "", good[7:], "sha1=" + good[7:], "sha256=", "sha256=zz", "sha256=é"):
        assert not is_valid_signature(body, header, app_secret=SECRET), header
    assert not is_valid_signature(body, sign(body, app_secret=b"other"), app_secret=SECRET)


@settings(deadline=None)  # a pure function, but the shared machine can stall any example
@given(body=st.binary(max_size=256), flip=st.integers(0, 255), pos=st.integers(0, 255))
def test_any_change_to_the_body_breaks_the_signature(body: bytes, flip: int, pos: int) -> None:
    header = sign(body, app_secret=SECRET)
    assert is_valid_signature(body, header, app_secret=SECRET)
    if body and flip:
        changed = bytearray(body)
        changed[pos % len(body)] ^= flip
        assert not is_valid_signature(bytes(changed), header, app_secret=SECRET)
    assert not is_valid_signature(body + b" ", header, app_secret=SECRET)
