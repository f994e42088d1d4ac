"""The collector tuning of long-running processes (pipeline/runtime/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pipeline.runtime.gc_tuning import collector_paused, tune_gc
from pipeline.settings import Settings


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_a_threshold_freezes_what_exists_and_sets_the_young_generation(restore_gc: None) -> None:
    gen1, gen2 = gc.get_threshold()[1:]
    tune_gc(12_345)
    assert gc.get_threshold() == (12_345, gen1, gen2)
    assert gc.get_freeze_count() > 0


def test_zero_leaves_the_collector_alone(restore_gc: None) -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    tune_gc(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_workers_tune_by_default_and_the_environment_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().worker_gc_gen0 == 50_000
    monkeypatch.setenv("WAPIPE_WORKER_GC_GEN0", "0")
    assert Settings().worker_gc_gen0 == 0
    monkeypatch.setenv("WAPIPE_WORKER_GC_GEN0", "-1")
    with pytest.raises(ValueError):
        Settings()


def test_the_collector_is_paused_inside_the_block_and_back_after_it() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a failed batch")
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
