"""Names from a shared store reach a terminal and each output format without their tricks."""

from __future__ import annotations

import csv
import io

import pytest

from morec_core.safe_text import csv_cell, html_text, latex_text, markdown_cell, terminal_text

HOSTILE = {
    "retitle": "arm\x1b]0;pwned\x07 name",
    "clear screen": "arm\x1b[2J\x1b[H name",
    "colour": "\x1b[31marm name\x1b[0m",
    "hyperlink": "\x1b]8;;https://evil.example\x1b\\arm name\x1b]8;;\x1b\\",
    "8-bit CSI": "arm\x9b2J name",
    "bell and backspace": "arm\x07\x08 name",
    "newline": "arm\nname",
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_terminal_text_has_no_control_character_left(case):
    shown = terminal_text(HOSTILE[case])
    assert not any(ord(char) < 32 or 127 <= ord(char) < 160 for char in shown)
    assert "arm" in shown and "name" in shown
    # Whole sequences go: no parameter bytes are left to read as text.
    assert "[2J" not in shown and "pwned" not in shown and "evil" not in shown


def test_bidi_overrides_are_shown_not_obeyed():
    assert terminal_text("abc\u202edcba") == "abc<U+202E>dcba"
    assert terminal_text("plain name, é ü 中文") == "plain name, é ü 中文"


def test_each_format_escapes_its_own_specials():
    assert markdown_cell("a|b *c* [x](y) <b>") == r"a\|b \*c\* \[x\]\(y\) \<b\>"
    assert latex_text("50% of a_b & $x^2$") == (
        r"50\% of a\_b \& \$x\textasciicircum{}2\$")
    assert html_text('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
    buffer = io.StringIO()
    csv.writer(buffer).writerow([csv_cell("=HYPERLINK(\"x\")"), csv_cell('a,"b"'),
                                 csv_cell("-1 arm")])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == [
        "'=HYPERLINK(\"x\")", 'a,"b"', "'-1 arm"]
    assert all("\x1b" not in writer(HOSTILE["colour"])
               for writer in (markdown_cell, latex_text, html_text, csv_cell))
