"""The package's public names: every module's ``__all__`` is exported, and nothing else."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pipeline.policy as policy


def test_every_public_name_of_every_module_is_exported_from_the_package() -> None:
    expected: set[str] = {"NAMESPACED_MODULES", *policy.NAMESPACED_MODULES}
    for info in pkgutil.iter_modules(policy.__path__):
        module = importlib.import_module(f"pipeline.policy.{info.name}")
        if info.name in policy.NAMESPACED_MODULES:
            assert getattr(policy, info.name) is module
            assert getattr(module, "__all__", None) is not None, f"{info.name} needs __all__"
            continue
        names = getattr(module, "__all__", None)
        assert names is not None, f"pipeline/policy/{info.name}.py needs an __all__"
        for name in names:
            assert hasattr(module, name), f"{info.name}.__all__ names missing {name}"
            assert getattr(policy, name) is getattr(module, name), (
                f"pipeline.policy.{name} is not {info.name}.{name}: add it to __init__.py"
            )
        expected |= set(names)
    assert set(policy.__all__) == expected
    assert len(policy.__all__) == len(set(policy.__all__)), "a name is exported twice"


def test_nothing_in_the_policy_layer_imports_a_broker_or_http_client() -> None:
    banned = ("faust", "httpx", "aiokafka", "confluent_kafka", "aiohttp")
    for info in pkgutil.iter_modules(policy.__path__):
        module = importlib.import_module(f"pipeline.policy.{info.name}")
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        for name in banned:
            assert f"import {name}" not in source and f"from {name}" not in source, (
                f"pipeline/policy/{info.name}.py imports {name}: keep policy pure"
            )
