"""Names and texts from a store, a data file or a study module, made safe for where they go.

A store is shared (PostgreSQL between colleagues, a store merged from a GPU machine), so whoever
writes a study, arm or dataset name writes what every reader's terminal receives: an ESC
sequence can retitle the window, move the cursor, recolour the screen or plant a hyperlink, and
a bidirectional override can make a name read backwards. Every such text passes through
`terminal_text` before it is printed, and through the escaper of the format it is written in
(`markdown_cell`, `csv_cell`, `latex_text`, `html_text`). Standard library only.
"""

from __future__ import annotations

import html
import re

ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, erasing
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"  # OSC (titles, hyperlinks), DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]"  # two- and three-byte escapes (charset, keypad, reset)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the 8-bit CSI
    r"|[\x90\x9d\x98\x9e\x9f].*?(?:\x07|\x9c|$)",  # 8-bit DCS, OSC, SOS, PM, APC
    re.DOTALL)
"""Whole sequences, so that no parameter bytes ('[2J', ']0;title') are left behind."""
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 (tab and newline apart, handled as spaces), DEL and C1."""
LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
"""Embeddings, overrides and isolates (and the marks): they reorder what follows them."""
REPLACEMENT = "\ufffd"


def terminal_text(text: object) -> str:
    """One line with no escape sequence or control character: sequences removed whole, other
    controls shown as U+FFFD, line breaks and tabs as one space, and each bidirectional
    control shown by its code point ('<U+202E>') instead of reordering the text."""
    value = str(text)
    value = ESCAPE_SEQUENCE.sub("", value)
    value = LINE_BREAKS.sub(" ", value)
    value = CONTROL.sub(REPLACEMENT, value)
    return BIDI_CONTROLS.sub(lambda match: f"<U+{ord(match.group()):04X}>", value)


def has_unsafe(text: object) -> bool:
    """Whether `terminal_text` would change the text (a warning may name the row)."""
    return terminal_text(text) != str(text)


MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def markdown_cell(text: object) -> str:
    """Text for a Markdown table cell or heading: `|` cannot end a cell, no emphasis, link,
    image or raw HTML is made of a name."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", terminal_text(text))


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: object) -> str:
    """Text for a CSV field (the csv module quotes it): a name that a spreadsheet would run as
    a formula ('=HYPERLINK(...)') is prefixed with an apostrophe, as OWASP advises. Numbers are
    written as numbers by the caller, never through here."""
    value = terminal_text(text)
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}
LATEX_PATTERN = re.compile("|".join(re.escape(key) for key in LATEX_SPECIALS))


def latex_text(text: object) -> str:
    return LATEX_PATTERN.sub(lambda match: LATEX_SPECIALS[match.group()], terminal_text(text))


def html_text(text: object) -> str:
    return html.escape(terminal_text(text), quote=True)


__all__ = ["csv_cell", "has_unsafe", "html_text", "latex_text", "markdown_cell", "terminal_text"]
