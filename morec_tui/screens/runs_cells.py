"""The runs screen's cells, formatted again only when what they show changed.

A poll of a 10,000-run store hands the screen the same records for every unchanged run; the
table's cells, the columns' order and the varying settings are kept per run (or per set of
runs shown) so that a poll redraws in milliseconds. Nothing here reads the store or draws."""

from __future__ import annotations

from typing import Any

from morec_core.store import RunRecord
from morec_core.study.study_view import parsed_spec, spec_items, varying_keys
from morec_tui.widgets.run_rows import (
    Column,
    arm_label,
    arm_width,
    metric_names,
    run_cells,
    varying_first,
)

Tests = dict[str, dict[str, float]]
"""Test metrics by run id."""


class RunCells:
    """Caches of the runs table's content, keyed by what each depends on."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[RunRecord, dict[str, float], list[Any], float | None]] = {}
        self._keys: tuple[tuple[frozenset[str], bool], list[str], int] | None = None
        self._order: tuple[tuple[frozenset[str], int], list[int]] | None = None
        self._names: tuple[Tests, list[str]] | None = None
        """The test metrics' names, and the test metrics they were read from."""

    def metric_names(self, tests: Tests) -> list[str]:
        if self._names is None or self._names[0] is not tests:
            self._names = (tests, metric_names(tests))
        return self._names[1]

    def varying_keys(self, shown: list[RunRecord], grouped: bool) -> tuple[list[str], int]:
        """varying_keys of the runs shown and the arm column's width, again only when which
        runs are shown changed (a run's spec and labels never change): 10,000 runs of distinct
        specs take some 150 ms."""
        which = (frozenset(run.id for run in shown), grouped)
        if self._keys is None or self._keys[0] != which:
            keys = varying_keys([spec_items(run.spec_json) for run in shown], seed=not grouped)
            self._keys = (which, keys, arm_width({arm_label(run) for run in shown}))
        return self._keys[1], self._keys[2]

    def order(self, columns: list[Column], shown: list[RunRecord]) -> list[int]:
        """varying_first of the runs shown, again only when which runs are shown changed."""
        which = (frozenset(run.id for run in shown), len(columns))
        if self._order is None or self._order[0] != which:
            self._order = (which, varying_first(columns, shown))
        return self._order[1]

    def forget_cells(self) -> None:
        """The columns changed: the cells are cached in the columns' order."""
        self._rows = {}

    def cells(self, run: RunRecord, test: dict[str, float], live: float | None,
              names: list[str], keys: list[str], order: list[int]) -> list[Any]:
        """A run's cells in the columns' order, formatted again only when the run, its test
        metrics or its live seconds changed (a change of the varying settings or of the
        columns' order changes the columns, and the caller forgets the cells)."""
        cached = self._rows.get(run.id)
        # `is` first: a poll keeps the records of unchanged runs, and comparing 10,000 records
        # field by field took some 40 ms.
        if cached is None or not ((cached[0] is run or cached[0] == run)
                                  and (cached[1] is test or cached[1] == test)
                                  and cached[3] == live):
            cells = run_cells(run, test, names, param_values(run, keys), live)
            cells = [cells[index] for index in order]
            cached = self._rows[run.id] = (run, test, cells, live)
        return cached[2]


def param_values(run: RunRecord, keys: list[str]) -> list[Any]:
    """The run's values of the settings `keys` (None where its spec has no such setting)."""
    flat = parsed_spec(run.spec_json)[1]
    return [flat.get(key) for key in keys]
