"""A Log whose long lines wrap at its width (Textual's Log cuts them: a traceback's last line,
the one that says what went wrong, ran off the right edge; issue 24). The lines as written are
kept and wrapped again when the width changes."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Self

from textual import events
from textual.widgets import Log


class WrappedLog(Log):
    DEFAULT_CSS = "WrappedLog { overflow-x: hidden; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.written: list[str] = []
        """The lines as written, unwrapped."""
        self._wrap_width = 0

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> Self:
        new = [part for line in lines for part in line.splitlines() or [""]]
        self.written.extend(new)
        return super().write_lines(self._wrapped(new), scroll_end=scroll_end)

    def clear(self) -> Self:
        self.written = []
        return super().clear()

    def _wrapped(self, lines: list[str]) -> list[str]:
        width = self._wrap_width
        if width < 10:  # not laid out yet: wrapped on the first resize
            return lines
        out = []
        for line in lines:
            # Continuation lines indented by two, so a wrapped line reads as one.
            parts = textwrap.wrap(line, width=width, subsequent_indent="  ",
                                  drop_whitespace=False, replace_whitespace=False) or [""]
            out.extend(parts)
        return out

    def _on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._wrap_width:
            self._wrap_width = width
            written, follow = self.written, self.is_vertical_scroll_end
            super().clear()
            self.written = []
            self.write_lines(written, scroll_end=follow)
