from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from pipeline.runtime.broker import EmbeddedBroker


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
