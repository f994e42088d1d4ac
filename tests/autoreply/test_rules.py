"""Rule matching: normalisation, word boundaries across scripts, built-ins, cooldown, YAML."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.agents.autoreply_rules import (
    OPT_IN,
    OPT_OUT,
    contains_word,
    load_rules,
    normalise,
    parse_rules,
)
from pipeline.errors import ConfigError

RULES = Path(__file__).resolve().parents[2] / "infra" / "autoreply" / "rules.yaml"


@given(st.text())
def test_normalise_is_idempotent(text: str) -> None:
    assert normalise(normalise(text)) == normalise(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1))
def test_fullwidth_ascii_normalises_like_ascii(text: str) -> None:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in text)
    assert normalise(fullwidth) == normalise(text)


@pytest.mark.parametrize(
    ("text", "keyword", "found"),
    [
        ("discount please", "discount", True),
        ("discounts", "discount", False),
        ("nodiscount", "discount", False),
        ("할인은 언제?", "할인", True),  # Korean particles attach to the word
        ("有折扣吗", "折扣", True),  # Chinese has no spaces at all
        ("sale!", "sale", True),
    ],
)
def test_word_boundaries_only_where_the_script_has_spaces(
    text: str, keyword: str, found: bool
) -> None:
    assert contains_word(normalise(text), normalise(keyword)) is found


@pytest.mark.parametrize(
    "text", ["STOP", "stop", "Stop!", "ＳＴＯＰ", " unsubscribe ", "수신거부", "退订"]
)
def test_opt_out_keywords_as_typed(text: str) -> None:
    verdict = load_rules(RULES).decide(text)
    assert verdict is not None and (verdict.rule_id, verdict.consent) == (OPT_OUT, "opted_out")


def test_opt_out_only_when_it_is_the_whole_message() -> None:
    verdict = load_rules(RULES).decide("please don't stop the deals")
    assert verdict is None or verdict.rule_id != OPT_OUT


def test_opt_in_confirms() -> None:
    verdict = load_rules(RULES).decide("START")
    assert verdict is not None and verdict.rule_id == OPT_IN and verdict.consent == "opted_in"
    assert verdict.reply.text


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("할인 코드 있나요?", "discount-ko"),
        ("有折扣吗", "discount-zh"),
        ("Any DISCOUNT today?", "discount"),
        ("where is my order #123", "order-status"),
    ],
)
def test_default_rules_fire(text: str, rule_id: str) -> None:
    verdict = load_rules(RULES).decide(text)
    assert verdict is not None and verdict.rule_id == rule_id


def test_cooldown_holds_a_second_reply_per_customer() -> None:
    book = parse_rules("rules: [{id: hi, keywords: [hello], reply: Hi!, cooldown_s: 60}]")
    first = book.decide("hello", last_reply_ms={}, now_ms=1_000_000)
    assert first is not None and not first.cooling_down
    again = book.decide("hello", last_reply_ms={"hi": 1_000_000}, now_ms=1_059_999)
    assert again is not None and again.cooling_down
    later = book.decide("hello", last_reply_ms={"hi": 1_000_000}, now_ms=1_060_000)
    assert later is not None and not later.cooling_down


@pytest.mark.parametrize(
    ("yaml_text", "says"),
    [
        ("rules: [{id: a, keywords: [], reply: x}]", "keywords"),
        ("rules: [{id: a, keywords: [x], match: fuzzy, reply: x}]", "match"),
        ("rules: [{id: a, keywords: ['('], match: regex, reply: x}]", "regular expression"),
        ("rules: [{id: a, keywords: [x], reply: {}}]", "reply"),
        ("rules: [{id: a, keywords: [x], reply: x}, {id: a, keywords: [y], reply: y}]", "unique"),
        ("rules: [", "YAML"),
    ],
)
def test_bad_rules_say_what_to_fix(yaml_text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_rules(yaml_text)


def test_nfkc_is_what_normalise_applies() -> None:
    assert normalise("ｶﾀｶﾅ") == unicodedata.normalize("NFKC", "ｶﾀｶﾅ").casefold()
