"""Lexical handling of ClickHouse SQL text: statement splitting and the read-only check.

Only a tokenizer, not a parser: it knows string literals, quoted identifiers and comments well
enough that a ``;`` or a keyword inside them is never mistaken for real SQL.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

#: First keywords of statements that cannot change data or schema.
READ_ONLY_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN"})

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _tokens(sql: str) -> Iterator[tuple[str, str, int]]:
    """Yield ``(kind, text, offset)``; kind is word/string/ident/semicolon/other; no comments."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i) or ch == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    # A doubled quote is an escaped quote, not the end of the literal.
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            yield ("string" if ch == "'" else "ident", sql[i : j + 1], i)
            i = j + 1
        elif ch == ";":
            yield ("semicolon", ";", i)
            i += 1
        else:
            match = _WORD.match(sql, i)
            if match:
                yield ("word", match.group(0), i)
                i = match.end()
            else:
                yield ("other", ch, i)
                i += 1


def split_statements(sql: str) -> list[str]:
    """Split a script on top-level ``;``; comments stay with their statement, blanks vanish."""
    pieces: list[str] = []
    start = 0
    for kind, _, offset in _tokens(sql):
        if kind == "semicolon":
            pieces.append(sql[start:offset])
            start = offset + 1
    pieces.append(sql[start:])
    return [piece.strip() for piece in pieces if next(_tokens(piece), None) is not None]


def is_read_only_sql(sql: str) -> bool:
    """True for exactly one SELECT/WITH/SHOW/DESCRIBE/EXPLAIN statement that writes nothing.

    ``SELECT ... INTO OUTFILE`` writes a file on the host, so it is refused too.
    """
    tokens = [(kind, text) for kind, text, _ in _tokens(sql)]
    # One trailing semicolon is fine; any other means a second statement.
    while tokens and tokens[-1][0] == "semicolon":
        tokens.pop()
        break
    if not tokens or any(kind == "semicolon" for kind, _ in tokens):
        return False
    first_kind, first = tokens[0]
    if first_kind == "other" and first == "(":
        # A parenthesised SELECT, e.g. "(SELECT 1) UNION ALL (SELECT 2)".
        words = [text.upper() for kind, text in tokens if kind == "word"]
        if not words or words[0] not in {"SELECT", "WITH"}:
            return False
    elif first_kind != "word" or first.upper() not in READ_ONLY_KEYWORDS:
        return False
    words = [text.upper() for kind, text in tokens if kind == "word"]
    return not any(a == "INTO" and b == "OUTFILE" for a, b in itertools.pairwise(words))


def checked_identifier(name: str) -> str:
    """``name`` if it is a plain ``table`` or ``db.table`` identifier; ``ValueError`` otherwise."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain table name: {name!r} (use letters, digits, _ and one '.')")
    return name
