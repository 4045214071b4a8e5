"""Data preparation's progress in a log: whole lines, at most one per $MOREC_PROGRESS_LINE_S and
one at the end, never a bar's carriage returns piled onto one line."""

import io

import numpy as np

from morec_core.data.progress import progress_bar
from morec_core.data.tokens import tokenize


class Log(io.StringIO):
    def isatty(self) -> bool:
        return False


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_whole_lines_and_a_last_one(monkeypatch):
    monkeypatch.setenv("MOREC_PROGRESS_LINE_S", "3600")
    log = Log()
    with progress_bar(total=1000, desc="images 112px", unit="img", leave=False,
                      stream=log) as bar:
        for _ in range(1000):
            bar.update(1)
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    # The first status, then nothing for an hour of updates, then the last one (kept although
    # the bar was not to stay on a terminal).
    assert len(lines) == 2, lines
    assert lines[0].startswith("images 112px:   0%") and "1000/1000" in lines[-1]


def test_every_update_past_the_interval_is_a_line(monkeypatch):
    monkeypatch.setenv("MOREC_PROGRESS_LINE_S", "0")
    log = Log()
    for _ in progress_bar(range(5), desc="tokenizing titles", unit="batch", stream=log):
        pass
    lines = log.getvalue().splitlines()
    assert len(lines) >= 3 and all(line.startswith("tokenizing titles:") for line in lines)


def test_a_terminal_gets_the_redrawn_bar_and_disabled_gets_nothing():
    terminal = Terminal()
    for _ in progress_bar(range(3), desc="x", unit="it", stream=terminal):
        pass
    assert "\r" in terminal.getvalue()
    quiet = Log()
    for _ in progress_bar(range(3), desc="x", unit="it", enabled=False, stream=quiet):
        pass
    assert quiet.getvalue() == ""


def test_tokenizing_into_a_log_writes_lines(monkeypatch, capsys):
    """The caller's path: tokenize() reports through the helper, so a worker's log (standard
    error, not a terminal under pytest's capture) gets a line, not a carriage return."""

    class Tokenizer:
        pad_token_id = 0
        name_or_path = "stub"

        def __call__(self, batch, **options):
            return {"input_ids": [[1, len(title)] for title in batch]}

    ids, lengths = tokenize(["a", "bb", "ccc"], Tokenizer(), max_tokens=4)
    assert lengths.tolist() == [2, 2, 2] and ids.dtype == np.int32
    err = capsys.readouterr().err
    assert "tokenizing titles:" in err and "\r" not in err
