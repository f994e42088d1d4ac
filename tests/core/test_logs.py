from __future__ import annotations

import json
import logging

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from pipeline.logs import configure_logging, mask_phone, redact


def test_secrets_are_dropped_and_phones_masked() -> None:
    out = redact(
        None,
        "info",
        {
            "event": "sent to 821012345678",
            "customer": "821012345678",
            "access_token": "EAAG123",
            "whatsapp_app_secret": "s3cret",
            "rows": 12,
        },
    )
    assert out["access_token"] == "[redacted]"
    assert out["whatsapp_app_secret"] == "[redacted]"
    assert out["customer"] == "********5678"
    assert "821012345678" not in out["event"]
    assert out["rows"] == 12


@given(st.from_regex(r"\+?[1-9]\d{7,14}", fullmatch=True))
def test_no_phone_number_survives_in_free_text(number: str) -> None:
    out = redact(None, "info", {"event": f"customer {number} replied"})
    assert number.lstrip("+") not in out["event"]
    assert number.lstrip("+")[-4:] in out["event"]


def test_mask_keeps_only_the_last_four_digits() -> None:
    assert mask_phone("+15550001234") == "*******1234"
    assert mask_phone("123") == "***"


def test_json_lines_when_not_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(fmt="json", level="info")
    structlog.get_logger("t").info("hello", customer="15550001234", token="abc")
    logging.getLogger("aiokafka.x").warning("stdlib line for 15550001234")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert lines[0]["event"] == "hello"
    assert lines[0]["customer"] == "*******1234"
    assert lines[0]["token"] == "[redacted]"
    assert "15550001234" not in lines[1]["event"]
    structlog.reset_defaults()
