from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.runtime.broker import EmbeddedBroker
from pipeline.runtime.store import Store, apply_migrations, open_store
from pipeline.settings import Settings


@pytest.fixture(autouse=True)
def _no_ambient_wapipe_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests build their settings explicitly; a developer's shell must not leak into them.
    for key in list(os.environ):
        if key.startswith("WAPIPE_"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    """A fresh in-memory Tansu broker for this test module (starts in well under a second)."""
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture
def app_id() -> str:
    return f"wapipe-test-{uuid.uuid4().hex[:8]}"


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
