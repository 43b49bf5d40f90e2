"""The pure rules take ``today`` / ``now`` from their caller: none of them reads the clock.
(That they import nothing of Flask, SQLAlchemy or the app is an import contract, checked by
``make lint``.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = sorted((Path(__file__).resolve().parents[2] / "clinic" / "rules").glob("*.py"))
CLOCK = {"now", "today", "utcnow", "time", "monotonic", "perf_counter"}


def clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else ""
            if node.func.attr in CLOCK and name in {"datetime", "date", "time", "clock_time"}:
                found.append(f"{path.name}:{node.lineno} {name}.{node.func.attr}()")
    return found


@pytest.mark.parametrize("path", RULES, ids=lambda path: path.name)
def test_a_rule_module_never_reads_the_clock(path):
    assert clock_reads(path) == []


def test_the_check_finds_a_clock_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from datetime import datetime\n\ndef f():\n    return datetime.now()\n")
    assert clock_reads(sample) == ["sample.py:4 datetime.now()"]
