"""Segment expressions: parsing, errors that point at the problem, printing, evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.campaigns.errors import SegmentSyntaxError
from pipeline.campaigns.segments import (
    And,
    Not,
    Or,
    Segment,
    Tag,
    matches,
    parse_segment,
    tags_in,
    to_text,
)
from pipeline.errors import WapipeError


def test_the_issue_examples_parse_to_the_intended_trees() -> None:
    assert parse_segment("vip and not dormant") == And(Tag("vip"), Not(Tag("dormant")))
    assert parse_segment("freq:monthly or value:high") == Or(Tag("freq:monthly"), Tag("value:high"))
    assert parse_segment("heat:hot and not opted-out") == And(
        Tag("heat:hot"), Not(Tag("opted-out"))
    )


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    assert parse_segment("a or b and not c") == Or(Tag("a"), And(Tag("b"), Not(Tag("c"))))
    assert parse_segment("not a and b") == And(Not(Tag("a")), Tag("b"))
    assert parse_segment("(a or b) and c") == And(Or(Tag("a"), Tag("b")), Tag("c"))
    assert parse_segment("not (a or b)") == Not(Or(Tag("a"), Tag("b")))


def test_binary_operators_are_left_associative_and_keywords_case_insensitive() -> None:
    assert parse_segment("a AND b and c") == And(And(Tag("a"), Tag("b")), Tag("c"))
    assert parse_segment("a or b Or c") == Or(Or(Tag("a"), Tag("b")), Tag("c"))


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("", 0, "a tag, 'not' or '('"),
        ("vip and", 7, "a tag, 'not' or '('"),
        ("vip and (dormant", 16, "'and', 'or' or ')'"),
        ("vip dormant", 4, "'and', 'or' or the end of the expression"),
        ("vip & dormant", 4, "a tag, 'not', '(' or ')'"),
        ("vip and or dormant", 8, "a tag, 'not' or '('"),
        ("(vip))", 5, "'and', 'or' or the end of the expression"),
        ("not", 3, "a tag, 'not' or '('"),
        ("()", 1, "a tag, 'not' or '('"),
    ],
)
def test_errors_name_the_position_and_what_was_expected(
    text: str, position: int, expected: str
) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse_segment(text)
    error = caught.value
    assert (error.position, error.expected) == (position, expected)
    message = str(error)
    assert f"position {position}" in message and expected in message
    # The caret line points under the offending spot of the echoed expression.
    lines = message.splitlines()
    assert lines[1] == f"  {text}" and lines[2] == "  " + " " * position + "^"
    assert isinstance(error, WapipeError)


def test_the_error_says_what_it_found() -> None:
    with pytest.raises(SegmentSyntaxError, match="found the end of the expression"):
        parse_segment("vip and (dormant")
    with pytest.raises(SegmentSyntaxError, match="found tag 'dormant'"):
        parse_segment("vip dormant")
    with pytest.raises(SegmentSyntaxError, match="found the character '&'"):
        parse_segment("vip & dormant")


def test_evaluation_against_tag_sets() -> None:
    vip_not_dormant = parse_segment("vip and not dormant")
    assert matches(vip_not_dormant, frozenset({"vip", "heat:hot"}))
    assert not matches(vip_not_dormant, frozenset({"vip", "dormant"}))
    assert not matches(vip_not_dormant, frozenset())
    either = parse_segment("freq:monthly or value:high")
    assert matches(either, frozenset({"value:high"}))
    assert not matches(either, frozenset({"value:mid", "freq:quarterly"}))
    assert tags_in(parse_segment("(a or b) and not c")) == frozenset({"a", "b", "c"})


# --- properties ------------------------------------------------------------------------------

_NAMES = ["vip", "dormant", "opted-out", "heat:hot", "freq:monthly", "value:high", "x1", "a.b_c"]


def _segments() -> st.SearchStrategy[Segment]:
    leaves = st.sampled_from(_NAMES).map(Tag)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            inner.map(Not),
            st.tuples(inner, inner).map(lambda p: And(*p)),
            st.tuples(inner, inner).map(lambda p: Or(*p)),
        ),
        max_leaves=12,
    )


@given(_segments())
def test_printing_then_parsing_gives_back_the_same_tree(segment: Segment) -> None:
    text = to_text(segment)
    assert parse_segment(text) == segment, text


@given(_segments(), st.frozensets(st.sampled_from(_NAMES)))
def test_evaluation_agrees_with_python_evaluating_the_same_expression(
    segment: Segment, tags: frozenset[str]
) -> None:
    # Python's and/or/not have the same precedence and associativity as segments, so the
    # printed text with each tag replaced by a membership test is a Python expression.
    text = to_text(segment)
    python = " ".join(
        f"({name!r} in tags)" if name not in ("and", "or", "not", "(", ")") else name
        for name in text.replace("(", " ( ").replace(")", " ) ").split()
    )
    assert matches(segment, tags) == eval(python, {"tags": tags}), text


@given(st.text(alphabet="abvip :-_().&|!not and or\t0", max_size=40))
def test_any_text_parses_or_raises_only_segment_syntax_error(text: str) -> None:
    try:
        segment = parse_segment(text)
    except SegmentSyntaxError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert parse_segment(to_text(segment)) == segment


@given(st.text(max_size=30))
def test_arbitrary_unicode_never_raises_anything_else(text: str) -> None:
    try:
        segment = parse_segment(text)
    except SegmentSyntaxError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert parse_segment(to_text(segment)) == segment
