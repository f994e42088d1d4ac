from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.analytics.refresh import refresh_attribution
from pipeline.runtime.store import Store, apply_migrations, open_store
from pipeline.settings import Settings
from tests.analytics.world import World, generate, load

SEED = 7


@pytest.fixture(scope="module")
def world() -> World:
    return generate(SEED)


@pytest.fixture(scope="module")
def loaded_store(tmp_path_factory: pytest.TempPathFactory, world: World) -> Iterator[Store]:
    """One chDB per test module, migrated, loaded with the generated world (with dups) and
    attributed (the refresh job's run, as the worker would do after the sink's inserts)."""
    store = open_store(Settings(data_dir=tmp_path_factory.mktemp("analytics")))
    try:
        apply_migrations(store)
        load(store, world, SEED)
        refresh_attribution(store)
        yield store
    finally:
        store.close()
