from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.runtime.store import Store, apply_migrations, open_store
from pipeline.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A migrated, empty chDB store in this test's tmp_path."""
    s = open_store(settings)
    try:
        apply_migrations(s)
        yield s
    finally:
        s.close()
