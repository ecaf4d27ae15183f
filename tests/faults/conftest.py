"""The fault and load suite's two scales and its figures report.

Every case runs at the CI scale by default (short, bounded, part of `make test`). With
FAULTS_FULL=1 (`make faults`) it runs at the scale the issue states and prints the same figures.
Each case records what it measured and the bound it checks through the `figures` fixture; the
report is printed at the end of the run and written to `.faults/figures.json` for the docs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FULL = os.environ.get("FAULTS_FULL") == "1"
REPORT: dict[str, dict[str, Any]] = {}
REPORT_PATH = Path(__file__).resolve().parents[2] / ".faults" / "figures.json"


def scaled(ci: int | float, full: int | float) -> Any:
    """The CI figure by default, the issue's figure under `make faults`."""
    return full if FULL else ci


class Figures:
    """What one case measured, with its bound, as printed at the end of the run."""

    def __init__(self, case: str) -> None:
        self.case = case
        self.values: dict[str, Any] = {"scale": "full" if FULL else "ci"}

    def record(self, **values: Any) -> None:
        self.values.update(values)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    fig = Figures(request.node.name)
    yield fig
    REPORT[fig.case] = fig.values


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT:
        return
    terminalreporter.section("fault and load figures")
    for case, values in REPORT.items():
        line = ", ".join(f"{k}={v}" for k, v in values.items())
        terminalreporter.write_line(f"{case}: {line}")
    REPORT_PATH.parent.mkdir(exist_ok=True)
    previous = json.loads(REPORT_PATH.read_text()) if REPORT_PATH.exists() else {}
    REPORT_PATH.write_text(json.dumps({**previous, **REPORT}, indent=2, default=str))
