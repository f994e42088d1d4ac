"""Segment expressions: which customers a campaign reaches, as a boolean formula over tags.

    vip and not dormant
    freq:monthly or value:high
    (heat:hot or heat:warm) and not opted-out

Grammar (precedence ``not`` > ``and`` > ``or``, both binary operators left-associative)::

    expr  := term ("or" term)*
    term  := unary ("and" unary)*
    unary := "not" unary | atom
    atom  := TAG | "(" expr ")"
    TAG   := letter or digit, then letters, digits, ":", "-", "_", "."

Keywords are case-insensitive and cannot be tag names. The parser is hand-written recursive
descent so that every error names the position and what was expected; :func:`to_text` prints
the fewest parentheses that parse back to the same tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.campaigns.errors import SegmentSyntaxError

KEYWORDS = frozenset({"and", "or", "not"})
_TAG_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_TAG_CHARS = _TAG_START | frozenset(":-_.")


@dataclass(frozen=True, slots=True)
class Tag:
    name: str


@dataclass(frozen=True, slots=True)
class Not:
    operand: Segment


@dataclass(frozen=True, slots=True)
class And:
    left: Segment
    right: Segment


@dataclass(frozen=True, slots=True)
class Or:
    left: Segment
    right: Segment


Segment = Tag | Not | And | Or


# --- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "tag", "and", "or", "not", "(", ")", "end"
    text: str
    position: int

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the expression"
        if self.kind == "tag":
            return f"tag {self.text!r}"
        return repr(self.text)


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif ch in _TAG_START:
            start = i
            while i < n and text[i] in _TAG_CHARS:
                i += 1
            word = text[start:i]
            kind = word.lower() if word.lower() in KEYWORDS else "tag"
            tokens.append(_Token(kind, word, start))
        else:
            raise SegmentSyntaxError(text, i, "a tag, 'not', '(' or ')'", f"the character {ch!r}")
    tokens.append(_Token("end", "", n))
    return tokens


# --- parser ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, expected: str) -> SegmentSyntaxError:
        token = self.peek()
        return SegmentSyntaxError(self.text, token.position, expected, token.describe())

    def expression(self) -> Segment:
        node = self.term()
        while self.peek().kind == "or":
            self.take()
            node = Or(node, self.term())
        return node

    def term(self) -> Segment:
        node = self.unary()
        while self.peek().kind == "and":
            self.take()
            node = And(node, self.unary())
        return node

    def unary(self) -> Segment:
        if self.peek().kind == "not":
            self.take()
            return Not(self.unary())
        return self.atom()

    def atom(self) -> Segment:
        token = self.peek()
        if token.kind == "tag":
            self.take()
            return Tag(token.text)
        if token.kind == "(":
            self.take()
            node = self.expression()
            if self.peek().kind != ")":
                raise self.fail("'and', 'or' or ')'")
            self.take()
            return node
        raise self.fail("a tag, 'not' or '('")


def parse_segment(text: str) -> Segment:
    """The tree of ``text``; :class:`SegmentSyntaxError` saying where it went wrong."""
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek().kind != "end":
        raise parser.fail("'and', 'or' or the end of the expression")
    return node


# --- printing, reading, evaluating -----------------------------------------------------------

_PRECEDENCE = {Or: 1, And: 2, Not: 3, Tag: 4}


def to_text(node: Segment) -> str:
    """The expression with the fewest parentheses that parses back to ``node``."""
    if isinstance(node, Tag):
        return node.name
    if isinstance(node, Not):
        return "not " + _wrapped(node.operand, _PRECEDENCE[Not])
    word = "and" if isinstance(node, And) else "or"
    level = _PRECEDENCE[type(node)]
    # Left-associative: a same-level right operand needs parentheses, a left one does not.
    return f"{_wrapped(node.left, level)} {word} {_wrapped(node.right, level + 1)}"


def _wrapped(node: Segment, min_level: int) -> str:
    text = to_text(node)
    return text if _PRECEDENCE[type(node)] >= min_level else f"({text})"


def tags_in(node: Segment) -> frozenset[str]:
    """Every tag name the expression mentions."""
    if isinstance(node, Tag):
        return frozenset({node.name})
    if isinstance(node, Not):
        return tags_in(node.operand)
    return tags_in(node.left) | tags_in(node.right)


Predicate = Callable[[frozenset[str]], bool]


def compile_segment(node: Segment) -> Predicate:
    """A function from a customer's tags to membership; built once, called per customer."""
    if isinstance(node, Tag):
        name = node.name
        return lambda tags: name in tags
    if isinstance(node, Not):
        inner = compile_segment(node.operand)
        return lambda tags: not inner(tags)
    left, right = compile_segment(node.left), compile_segment(node.right)
    if isinstance(node, And):
        return lambda tags: left(tags) and right(tags)
    return lambda tags: left(tags) or right(tags)


def matches(node: Segment, tags: frozenset[str]) -> bool:
    return compile_segment(node)(tags)


__all__ = [
    "KEYWORDS",
    "And",
    "Not",
    "Or",
    "Predicate",
    "Segment",
    "SegmentSyntaxError",
    "Tag",
    "compile_segment",
    "matches",
    "parse_segment",
    "tags_in",
    "to_text",
]
