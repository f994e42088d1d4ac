"""The example in docs/sandbox.md runs as written (examples that rot are a trap: style.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def test_docs_example_runs_and_prints_statuses() -> None:
    [example] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    done = subprocess.run(
        [sys.executable, "-c", example],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=DOC.parents[1],
    )
    assert done.returncode == 0, f"docs/sandbox.md example failed:\n{done.stderr}"
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("['sent'"), f"expected the message's statuses, got {last!r}"
