"""Embedded ClickHouse (chDB) behind the :class:`~pipeline.runtime.store_api.Store` interface.

chDB facts this module is built around (chdb-core 26.9):
- One data directory per *process*, and one embedded server per process: opening a second
  directory while one is open fails inside chDB. Other processes are kept out by an ``flock`` on
  ``<dir>/.wapipe.lock`` (chDB itself only says "Error initializing EmbeddedServer").
- Within a process, every store opened on the same directory shares one session; a lock
  serialises calls so the sink can insert from an executor thread while a web view reads.
- ``Python(name)`` finds the Arrow table by the variable *name* in the calling frame, so
  :meth:`ChdbStore.insert_arrow` keeps the batch in a local with a fixed name.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow
import structlog

from pipeline.errors import ReadOnlyQueryError, StoreError, StoreLockedError
from pipeline.runtime.store_api import INSERT_SETTINGS, QueryResult
from pipeline.runtime.store_sql import checked_identifier, is_read_only_sql

log = structlog.get_logger(__name__)

LOCK_FILE_NAME = ".wapipe.lock"


@dataclass
class _Engine:
    """The one chDB session of this process, shared by every store opened on its directory."""

    path: Path
    session: Any
    lock_fd: int
    users: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)


_engine: _Engine | None = None
_engine_guard = threading.Lock()


def _take_directory_lock(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StoreLockedError(
            f"another wapipe process (pid {owner}) owns {path}; stop it or use `wapipe sql` "
            "which asks the running process"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _acquire_engine(path: Path) -> _Engine:
    global _engine
    with _engine_guard:
        if _engine is not None:
            if _engine.path != path:
                raise StoreError(
                    f"chDB serves one data directory per process and {_engine.path} is open; "
                    f"close every store on it before opening {path}"
                )
            _engine.users += 1
            return _engine
        fd = _take_directory_lock(path)
        try:
            from chdb import session as chdb_session

            chdb = chdb_session.Session(str(path))
        except Exception as exc:
            os.close(fd)
            raise StoreError(f"chDB could not open {path}: {_first_line(exc)}") from exc
        _engine = _Engine(path=path, session=chdb, lock_fd=fd, users=1)
        log.info("chdb.opened", path=str(path))
        return _engine


def _release_engine(engine: _Engine) -> None:
    global _engine
    with _engine_guard:
        engine.users -= 1
        if engine.users > 0:
            return
        with engine.lock:
            engine.session.close()
        os.close(engine.lock_fd)  # closing the descriptor drops the flock
        _engine = None
        log.info("chdb.closed", path=str(engine.path))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def chdb_parameter(value: Any) -> str:
    """Render a Python value in the text form chDB parses for a ``{name:Type}`` parameter."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_literal(item) for item in value) + "]"
    return str(value)


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, dt.date):
        return "'" + chdb_parameter(value) + "'"
    return chdb_parameter(value)


def _column_values(column: pyarrow.ChunkedArray) -> list[Any]:
    try:
        return column.to_pylist()
    except UnicodeDecodeError:
        # chDB labels every ClickHouse String as Arrow utf8, but a String may hold any bytes
        # (dead_letters.raw): hand back text where it decodes and bytes where it does not.
        raw = column.cast(pyarrow.large_binary()).to_pylist()
        return [_text_or_bytes(value) for value in raw]


def _text_or_bytes(value: bytes | None) -> str | bytes | None:
    if value is None:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value


def arrow_insert_sql(
    table: str, column_names: list[str], settings: Mapping[str, int] = INSERT_SETTINGS
) -> str:
    """INSERT of the Arrow table bound to the local ``wapipe_arrow_batch`` (see module doc)."""
    columns = ", ".join(f"`{checked_identifier(name)}`" for name in column_names)
    sql = (
        f"INSERT INTO {checked_identifier(table)} ({columns}) "
        f"SELECT {columns} FROM Python(wapipe_arrow_batch)"
    )
    if settings:
        sql += " SETTINGS " + ", ".join(
            f"{checked_identifier(k)} = {int(v)}" for k, v in settings.items()
        )
    return sql


class ChdbStore:
    """A handle on the process's chDB session; ``read_only`` handles refuse every write."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path.resolve()
        self.read_only = read_only
        self._engine: _Engine | None = _acquire_engine(self.path)

    def _live(self) -> _Engine:
        if self._engine is None:
            raise StoreError(f"the store on {self.path} is closed; open a new one")
        return self._engine

    def _refuse_writes(self, what: str) -> None:
        if self.read_only:
            raise ReadOnlyQueryError(f"{what} refused: this store was opened read-only")

    def insert_arrow(self, table: str, batch: pyarrow.Table) -> int:
        self._refuse_writes(f"insert into {table}")
        if batch.num_rows == 0:
            return 0
        sql = arrow_insert_sql(table, batch.column_names)
        # chDB resolves Python(wapipe_arrow_batch) by this local's name in this frame.
        wapipe_arrow_batch = batch
        engine = self._live()
        with engine.lock:
            try:
                engine.session.query(sql)
            except Exception as exc:
                raise StoreError(f"insert into {table} failed: {_first_line(exc)}") from exc
        del wapipe_arrow_batch
        return batch.num_rows

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        if self.read_only and not is_read_only_sql(sql):
            raise ReadOnlyQueryError(
                "only one SELECT/WITH/SHOW/DESCRIBE/EXPLAIN statement is allowed here"
            )
        params = {k: chdb_parameter(v) for k, v in (parameters or {}).items()}
        engine = self._live()
        with engine.lock:
            try:
                table = engine.session.query(sql, "ArrowTable", params=params or None)
            except Exception as exc:
                raise StoreError(f"query failed: {_first_line(exc)}") from exc
        if not isinstance(table, pyarrow.Table):  # DDL sent through query() returns no table
            return QueryResult(columns=(), rows=[])
        columns = [_column_values(column) for column in table.columns]
        return QueryResult(columns=tuple(table.column_names), rows=list(zip(*columns, strict=True)))

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self._refuse_writes("command")
        params = {k: chdb_parameter(v) for k, v in (parameters or {}).items()}
        engine = self._live()
        with engine.lock:
            try:
                engine.session.query(sql, params=params or None)
            except Exception as exc:
                raise StoreError(f"statement failed: {_first_line(exc)}") from exc

    def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            _release_engine(engine)

    def __enter__(self) -> ChdbStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
