"""Write a folder or a file under a temporary name, then rename it into place.

A reader of the cache therefore sees either nothing or a complete result: an interrupted run
(an exception, Ctrl-C, a killed process) leaves at most a dot-prefixed temporary beside it,
never a half-written prepared dataset under the final name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `final`; on success it becomes `final`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    # mkdtemp makes the folder private (0700); the data folder may be shared between users.
    temporary.chmod(0o755)
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    try:
        os.replace(temporary, final)
    except OSError:
        shutil.rmtree(temporary, ignore_errors=True)
        # Another process finished the same key first (rename onto a non-empty folder fails);
        # its content was built from the same inputs, so it is kept. Anything else re-raises.
        if not final.is_dir():
            raise


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary file path beside `final`; on success it replaces `final`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(handle)
    temporary = Path(name)
    temporary.chmod(0o644)  # mkstemp's 0600 would hide the cache from other users
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, final)
