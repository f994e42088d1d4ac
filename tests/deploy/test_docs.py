"""The docs' code runs: extending.md's worked example, and the links between the docs.

The example's policy module and property tests are executed as written; its agent module is
loaded and registered on a real Faust app; the integration test is compiled and its imports
resolved. So the walk-through cannot rot while the code it names changes.
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.app import build_app
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXTENDING = DOCS / "extending.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks() -> list[str]:
    blocks = _BLOCK.findall(EXTENDING.read_text("utf-8"))
    assert len(blocks) == 5, "extending.md: policy, agent, ROLES, property tests, integration"
    return blocks


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"<docs/extending.md:{name}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


@pytest.fixture
def example_modules() -> Iterator[tuple[types.ModuleType, types.ModuleType]]:
    policy_src, agent_src, *_ = _blocks()
    names = ("pipeline.policy.interest", "pipeline.agents.interest")
    try:
        yield _module(names[0], policy_src), _module(names[1], agent_src)
    finally:
        for name in names:
            sys.modules.pop(name, None)


def test_policy_and_its_property_tests_run(
    example_modules: tuple[types.ModuleType, types.ModuleType],
) -> None:
    tests = _module("tests.policy.test_interest_from_docs", _blocks()[3])
    try:
        functions = [v for k, v in vars(tests).items() if k.startswith("test_")]
        assert len(functions) == 3
        for function in functions:
            function()
    finally:
        sys.modules.pop(tests.__name__, None)


def test_agent_registers_on_a_real_app(
    example_modules: tuple[types.ModuleType, types.ModuleType], tmp_path: Path
) -> None:
    _, agent = example_modules
    wapp = build_app(Settings(data_dir=tmp_path), bootstrap="127.0.0.1:9", roles=[])
    agent.register(wapp)
    assert any(name.endswith("interest") for name in wapp.app.agents), list(wapp.app.agents)


def test_integration_example_compiles_and_its_imports_exist(
    example_modules: tuple[types.ModuleType, types.ModuleType],
) -> None:
    source = _blocks()[4]
    compile(source, "<extending.md integration test>", "exec")
    for module, names in re.findall(r"^from ([\w.]+) import ([\w, ]+)$", source, re.M):
        imported = importlib.import_module(module)
        for name in names.split(","):
            assert hasattr(imported, name.strip()), f"{module} has no {name.strip()}"


def test_docs_link_to_files_that_exist() -> None:
    for doc in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", doc.read_text("utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
