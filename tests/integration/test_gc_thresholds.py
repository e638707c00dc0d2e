"""``PAYFLOW_GC_THRESHOLDS``: the collector's thresholds in every process that serves."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrastructure.settings import GC_THRESHOLDS
from interfaces import cli


@pytest.fixture(autouse=True)
def interpreter_thresholds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    monkeypatch.setenv("PAYFLOW_STORE", "memory")
    monkeypatch.setenv("PAYFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAYFLOW_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("PAYFLOW_ARGON2_MEMORY_KIB", "64")
    monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: None)  # pytest's
    yield
    gc.set_threshold(*before)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """What the collector was set to when the HTTP service would have started."""
    seen: list[tuple[int, int, int]] = []

    def serve(container: Any, host: str, port: int, run_workers: bool) -> int:
        seen.append(gc.get_threshold())
        container.close()
        return 0

    monkeypatch.setattr(cli, "_serve", serve)
    return seen


def test_the_service_collects_at_payflow_s_thresholds(
    served: list[tuple[int, int, int]],
) -> None:
    assert cli.main(["up"]) == 0
    assert served == [GC_THRESHOLDS]


def test_thresholds_are_settable(
    served: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYFLOW_GC_THRESHOLDS", "2000, 5,50")
    assert cli.main(["api"]) == 0
    assert served == [(2000, 5, 50)]


def test_a_bad_value_starts_nothing_and_changes_nothing(
    served: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYFLOW_GC_THRESHOLDS", "0,10,10")  # 0 would turn collection off
    assert cli.main(["up"]) == 2  # the message, naming the variable: test_settings.py
    assert served == []
    assert gc.get_threshold() == (700, 10, 10)


def test_an_incremental_collector_is_left_as_the_interpreter_sets_it(
    served: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "INCREMENTAL_COLLECTOR", sys.version_info[:2])  # as on 3.14
    assert cli.main(["up"]) == 0
    assert served == [(700, 10, 10)]


def test_a_one_off_command_keeps_the_interpreter_s(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["audit", "--json"]) == 0
    assert gc.get_threshold() == (700, 10, 10)
