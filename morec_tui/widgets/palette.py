"""The colours of the dashboard's plots, as RGB, so the plot (plotext draws an RGB tuple as
24-bit colour) and its legend (Rich markup `rgb(r,g,b)`) show the same colour whatever the
terminal's or Textual's theme does to named colours (issue 24: `cyan` in the plot and `cyan` in
the legend were two different colours).

Sixteen colours: Sasha Trubetskoy's list of 20 distinct colours (the one textual-plotext's own
themes cycle through) without navy, maroon, black and white, which vanish on a dark or a
light background. Sixteen, not seven: an overlay of 8 to 12 runs no longer repeats colours.
"""

from __future__ import annotations

Rgb = tuple[int, int, int]

PALETTE: tuple[Rgb, ...] = (
    (0, 130, 200),    # blue
    (245, 130, 48),   # orange
    (60, 180, 75),    # green
    (230, 25, 75),    # red
    (145, 30, 180),   # purple
    (70, 240, 240),   # cyan
    (240, 50, 230),   # magenta
    (255, 225, 25),   # yellow
    (170, 110, 40),   # brown
    (0, 128, 128),    # teal
    (180, 225, 40),   # lime
    (250, 190, 212),  # pink
    (128, 128, 0),    # olive
    (220, 190, 255),  # lavender
    (255, 215, 180),  # apricot
    (128, 128, 128),  # grey
)


def color_at(index: int) -> Rgb:
    """The index-th series' colour (the list starts over after sixteen)."""
    return PALETTE[index % len(PALETTE)]


def markup(color: Rgb) -> str:
    """The colour as Rich markup names it: `rgb(0,130,200)`."""
    red, green, blue = color
    return f"rgb({red},{green},{blue})"
