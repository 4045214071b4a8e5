"""Write the README's screenshots: SVGs of the dashboard's main screens on a seeded store (the
tests' fixed runs: two studies of one group, every run status, per-user results, a study with
a searched learning rate), taken with Textual's own App.save_screenshot.

    python scripts/screenshots.py [--out docs/screenshots]

Nothing depends on the clock or the machine: the same SVGs come out each time (a change in
one is a change in the screen).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = (110, 32)


async def _shot(app, name: str, out: Path, steps: Callable[[object], Awaitable[None]]) -> Path:
    from tests.tui.test_snapshots import shown  # waits until the screen is loaded and idle

    async with app.run_test(size=SIZE) as pilot:
        from morec_tui.screens.runs import RunsScreen

        await shown(pilot, RunsScreen)
        await steps(pilot)
        await shown(pilot, type(app.screen))
        app.save_screenshot(filename=f".{name}.svg.tmp", path=str(out))
    temporary = out / f".{name}.svg.tmp"
    final = out / f"{name}.svg"
    os.replace(temporary, final)
    return final


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    arguments = parser.parse_args()
    os.environ["TZ"] = "UTC"  # start times as the tests show them
    time.tzset()
    from morec_core.store import Store
    from morec_tui.messages import OpenStudy
    from tests.tui.fill import STUDY_MODULE, app_on, fill_store, write_jobs
    from tests.tui.study_fill import fill_optuna, fill_study
    from tests.tui.test_overlay import add_seeds_one_stopping_early, overlay_of_seeds

    arguments.out.mkdir(parents=True, exist_ok=True)

    def seeded(folder: Path, *, study: bool = False, seeds: bool = False) -> dict[str, Path]:
        """The tests' fixed runs in `folder`; `study`: the searched-lr study `lrs` too;
        `seeds`: two more seeds of mind-text's IDRec, one stopped early."""
        places = {"store": folder / "morec.db", "runs": folder / "runs",
                  "studies": folder / "studies"}
        places["studies"].mkdir(parents=True)
        (places["studies"] / "tables.py").write_text(STUDY_MODULE)
        with Store(places["store"]) as store:
            fill_store(store)
            if seeds:
                add_seeds_one_stopping_early(store)
            if study:
                fill_study(store, places["studies"])
        if study:
            fill_optuna(Store(places["store"]).url)
        write_jobs(places["runs"], socket.gethostname())
        return places

    async def nothing(pilot) -> None:
        return None

    async def compare(pilot) -> None:
        await pilot.press("c")

    async def overlay(pilot) -> None:
        await overlay_of_seeds(pilot.app, pilot)

    async def study(pilot) -> None:
        pilot.app.post_message(OpenStudy("lrs"))
        await pilot.pause(0.5)
        await pilot.press("2")

    written = []
    with tempfile.TemporaryDirectory(prefix="morec-screenshots-") as scratch:
        for name, steps, options in (("runs", nothing, {"study": True}),
                                     ("compare", compare, {}),
                                     ("overlay", overlay, {"seeds": True}),
                                     ("study", study, {"study": True})):
            places = seeded(Path(scratch) / name, **options)
            for variable, value in (("MOREC_STORE", "store"), ("MOREC_RUNS_DIR", "runs"),
                                    ("MOREC_STUDIES_DIR", "studies")):
                os.environ[variable] = str(places[value])  # what jobs started here would read
            written.append(asyncio.run(_shot(app_on(places), name, arguments.out, steps)))
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
