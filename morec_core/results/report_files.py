"""Write a report's files: Markdown, HTML beside it, figures in <name>_files/, each whole
(a temporary name, then a rename), so a reader never sees half a report."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from morec_core.data.atomic import atomic_file
from morec_core.results.report import Report
from morec_core.results.report_figures import figure_steps, write_figures
from morec_core.results.report_render import Image, blocks_of, to_html, to_markdown
from morec_core.store import Store

Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all) after each step of writing a report."""


def write_report(report: Report, store: Store, output: Path, *, html: bool = True,
                 figures: bool = True, progress: Progress | None = None) -> list[Path]:
    """Write the files; returns their paths (the figures' folder last, when drawn).
    `progress` hears (steps done, steps in all): each question's figures, the trade-off
    figure, then the text files."""
    images: dict[str, list[Image]] = {}
    folder = output.with_name(f"{output.stem}_files")
    total = (figure_steps(report) if figures else 0) + 1
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if figures:
        images = _figures_folder(report, store, folder, step)
    blocks = blocks_of(report, images)
    with atomic_file(output) as temporary:
        temporary.write_text(to_markdown(blocks), encoding="utf-8")
    written = [output]
    if html:
        with atomic_file(output.with_suffix(".html")) as temporary:
            temporary.write_text(to_html(blocks), encoding="utf-8")
        written.append(output.with_suffix(".html"))
    if images:
        written.append(folder)
    step()
    return written


def _figures_folder(report: Report, store: Store, folder: Path,
                    step: Callable[[], None]) -> dict[str, list[Image]]:
    """Draw into a temporary folder, then swap it in for the old one."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        images = write_figures(report, store, temporary, folder.name, step)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    temporary.chmod(0o755)
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    temporary.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return images
