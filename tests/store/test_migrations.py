"""Migrations apply in order, once, and every record type inserts into its table."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from pipeline import events
from pipeline.errors import StoreError
from pipeline.runtime.store import (
    TABLE_FOR_RECORD,
    Store,
    apply_migrations,
    events_to_arrow,
    migration_files,
    open_store,
)
from pipeline.settings import Settings


def test_migrations_apply_twice_on_an_empty_store(settings: Settings) -> None:
    store = open_store(settings)
    try:
        first = apply_migrations(store)
        assert first == [p.name for p in migration_files()], "every file applies, in order"
        tables_after_first = store.query("SHOW TABLES").column("name")
        assert apply_migrations(store) == [], "a second run must apply nothing"
        # Re-running every statement (as after a crash mid-file) must also be harmless.
        store.command("TRUNCATE TABLE schema_migrations")
        assert apply_migrations(store) == first
        assert store.query("SHOW TABLES").column("name") == tables_after_first
    finally:
        store.close()


def test_misnamed_migration_file_is_an_error(store: Store, tmp_path: Path) -> None:
    (tmp_path / "migr").mkdir()
    (tmp_path / "migr" / "1_bad.sql").write_text("SELECT 1")
    with pytest.raises(StoreError, match=r"NNN_lower_snake\.sql"):
        apply_migrations(store, tmp_path / "migr")


def test_failed_statement_names_file_and_statement(store: Store, tmp_path: Path) -> None:
    (tmp_path / "migr").mkdir()
    (tmp_path / "migr" / "900_broken.sql").write_text("SELECT 1;\nCREATE TABLE oops (;")
    with pytest.raises(StoreError, match=r"900_broken\.sql failed at statement 2"):
        apply_migrations(store, tmp_path / "migr")


def _sample(record: type, suffix: str = "v") -> object:
    """An instance with every field filled (optional ones too), so every column is exercised."""
    hints = typing.get_type_hints(record, vars(events))
    values: dict[str, object] = {}
    for field in dataclasses.fields(record):
        hint = str(hints[field.name])
        if "PurchaseItem" in hint:
            values[field.name] = (events.PurchaseItem(sku="s", quantity=1, amount_minor=2),)
        elif "tuple" in hint:
            values[field.name] = ("p1", "p2")
        elif "bool" in hint:
            values[field.name] = True
        elif "bytes" in hint:
            values[field.name] = b"\x00raw"
        elif "float" in hint:
            values[field.name] = 0.5
        elif "int" in hint:
            values[field.name] = 7
        else:
            values[field.name] = f"{field.name}-{suffix}"
    return record(**values)


@pytest.mark.parametrize("record_name", sorted(TABLE_FOR_RECORD))
def test_every_record_inserts_into_its_table(store: Store, record_name: str) -> None:
    record = events.RECORD_TYPES[record_name]
    table = TABLE_FOR_RECORD[record_name]
    batch = events_to_arrow([_sample(record), record(**_minimal_fields(record))])
    assert store.insert_arrow(table, batch) == 2, f"{table} must accept the {record_name} columns"
    assert store.query(f"SELECT count() FROM {table}").scalar() == 2


def _minimal_fields(record: type) -> dict[str, object]:
    # Required fields only: optional ones keep their dataclass defaults (mostly None). Other
    # ids than _sample's, else the ReplacingMergeTree collapses the two rows on insert.
    hints = typing.get_type_hints(record, vars(events))
    required = [
        f
        for f in dataclasses.fields(record)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    sample = _sample(record, suffix="min")
    return {
        f.name: (None if "None" in str(hints[f.name]) else getattr(sample, f.name))
        for f in required
    }


def test_every_record_type_has_a_table() -> None:
    assert set(TABLE_FOR_RECORD) == set(events.RECORD_TYPES), "map new records to a table"


def test_mixed_batches_are_refused() -> None:
    with pytest.raises(ValueError, match="one event type"):
        events_to_arrow([_sample(events.Alarm), _sample(events.TagChange)])
    with pytest.raises(ValueError, match="at least one"):
        events_to_arrow([])
