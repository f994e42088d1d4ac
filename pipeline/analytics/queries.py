"""Named queries: the SQL files in ``infra/clickhouse/queries`` and how to run them.

The CLI, the report and the dashboards all read the same files. A file documents itself in
its leading comment block::

    -- funnel: one line that says what the query answers.
    -- More lines of explanation (attribution rules...).
    -- @param grain String = campaign: one of campaign|template|day
    -- @param from_ms Int64 = 0: what the parameter means

Every ``{name:Type}`` placeholder in the SQL must be declared by an ``@param`` line (the
loader refuses the file otherwise), so a caller can list, default and check parameters
before anything reaches ClickHouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.runtime.store import QueryResult, Store

#: infra/clickhouse/queries in the source tree.
QUERIES_DIR = Path(__file__).resolve().parents[2] / "infra" / "clickhouse" / "queries"

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([^}]+)\}")
_PARAM_LINE = re.compile(
    r"^--\s*@param\s+(?P<name>[A-Za-z_]\w*)\s+(?P<type>[A-Za-z0-9_()]+)"
    r"(?:\s*=\s*(?P<default>[^:]*?))?\s*(?::\s*(?P<doc>.*))?$"
)
_CHOICES = re.compile(r"one of ([\w|]+)")
_INTEGER_TYPE = re.compile(r"^U?Int\d+$")
_FLOAT_TYPE = re.compile(r"^Float\d+$")


@dataclass(frozen=True, kw_only=True, slots=True)
class QueryParameter:
    name: str
    type: str
    default: Any | None
    doc: str
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None

    def coerce(self, value: Any) -> Any:
        """``value`` as the Python type of the ClickHouse type; ``ValueError`` naming the param."""
        try:
            if _INTEGER_TYPE.match(self.type):
                result: Any = int(value)
            elif _FLOAT_TYPE.match(self.type):
                result = float(value)
            else:
                result = value
        except (TypeError, ValueError):
            raise ValueError(
                f"parameter {self.name} must be a {self.type}, got {value!r}"
            ) from None
        if self.choices and result not in self.choices:
            raise ValueError(
                f"parameter {self.name} must be one of {', '.join(self.choices)}; got {value!r}"
            )
        return result


@dataclass(frozen=True, kw_only=True, slots=True)
class NamedQuery:
    name: str
    summary: str
    description: str
    sql: str
    parameters: tuple[QueryParameter, ...]
    path: Path

    def bind(self, **values: Any) -> dict[str, Any]:
        """Every parameter's value: given ones coerced, the rest defaulted; unknown ones refused."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(
                f"query {self.name} has no parameter {', '.join(unknown)}; "
                f"it takes {', '.join(known) or 'none'}"
            )
        bound: dict[str, Any] = {}
        for param in self.parameters:
            if param.name in values and values[param.name] is not None:
                bound[param.name] = param.coerce(values[param.name])
            elif param.required:
                raise ValueError(f"query {self.name} needs parameter {param.name} ({param.doc})")
            else:
                bound[param.name] = param.default
        return bound


def parse_named_query(path: Path) -> NamedQuery:
    """Read one query file; ``ValueError`` naming the file when its header is incomplete."""
    text = path.read_text()
    header = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    if not header or not header[0].startswith(f"-- {path.stem}:"):
        raise ValueError(f"{path.name} must start with '-- {path.stem}: <one line summary>'")
    summary = header[0].split(":", 1)[1].strip()
    description_lines: list[str] = []
    declared: dict[str, QueryParameter] = {}
    for line in header[1:]:
        match = _PARAM_LINE.match(line)
        if match is None:
            description_lines.append(line[2:].strip())
            continue
        param = _parameter(match)
        declared[param.name] = param
    used = {name: ch_type.strip() for name, ch_type in _PLACEHOLDER.findall(text)}
    undeclared = sorted(set(used) - set(declared))
    if undeclared:
        raise ValueError(f"{path.name}: declare {undeclared} with '-- @param name Type = default'")
    mistyped = sorted(n for n, t in used.items() if declared[n].type != t)
    if mistyped:
        raise ValueError(f"{path.name}: placeholder types differ from @param lines for {mistyped}")
    return NamedQuery(
        name=path.stem,
        summary=summary,
        description="\n".join(description_lines).strip(),
        sql=text,
        parameters=tuple(declared.values()),
        path=path,
    )


def _parameter(match: re.Match[str]) -> QueryParameter:
    doc = (match.group("doc") or "").strip()
    choices_match = _CHOICES.search(doc)
    choices = tuple(choices_match.group(1).split("|")) if choices_match else ()
    param = QueryParameter(
        name=match.group("name"), type=match.group("type"), default=None, doc=doc, choices=choices
    )
    raw_default = match.group("default")
    if raw_default is None:
        return param
    raw_default = raw_default.strip()
    if raw_default in ("''", '""'):
        raw_default = ""
    return QueryParameter(
        name=param.name,
        type=param.type,
        default=param.coerce(raw_default),
        doc=doc,
        choices=choices,
    )


def load_queries(directory: Path = QUERIES_DIR) -> dict[str, NamedQuery]:
    """Every named query in ``directory``, by name, sorted."""
    return {path.stem: parse_named_query(path) for path in sorted(directory.glob("*.sql"))}


def run_named(store: Store, name: str, /, **params: Any) -> QueryResult:
    """Run the named query ``name`` with ``params`` (defaults for the rest)."""
    queries = load_queries()
    try:
        query = queries[name]
    except KeyError:
        raise KeyError(f"no named query {name!r}; known: {', '.join(queries)}") from None
    return store.query(query.sql, query.bind(**params))
