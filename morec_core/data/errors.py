"""The one exception of the data layer: bad input, named down to the file and the line or field.

`DataError` subclasses ValueError so that callers which already treat bad values as user errors
(the CLI prints `error: ...` and exits 2) need no special case.
"""

from __future__ import annotations

from pathlib import Path

EXCERPT_CHARACTERS = 80
# A backstop for messages that quote what they were given (pandas, PIL): a 50 MB line must not
# become a 50 MB error line.
MAX_MESSAGE_CHARACTERS = 400


def shorten(text: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """`text` cut to `limit` characters and "...", if longer.

    ASCII "..." rather than an ellipsis character: the message may go to a terminal whose
    encoding has none."""
    return text if len(text) <= limit else f"{text[:limit]}..."


def excerpt(value: object, limit: int = EXCERPT_CHARACTERS) -> str:
    """`repr(value)`, shortened: how a message quotes the bad input it names."""
    return shorten(repr(value), limit)


class DataError(ValueError):
    """Raw data that cannot be used as it is. The message is one line:
    `<file>: line <n>: <what is wrong>` or `<file>: field '<name>': <what is wrong>`."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.reason = shorten(" ".join(message.split()), MAX_MESSAGE_CHARACTERS)
        where = [] if path is None else [str(path)]
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        # Messages from pandas or PIL may span lines; the CLI prints exactly one line.
        one_line = " ".join(message.split())
        one_line = shorten(one_line, MAX_MESSAGE_CHARACTERS)
        super().__init__(": ".join([*where, one_line]))
