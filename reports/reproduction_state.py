"""The reproduction's state as committed: its run store and Optuna's queue, each an SQLite file
compressed with xz (about a sixth of the file: a 2.2 MB store is some 360 KB), so the state can
travel with the repository without large files in it.

    python reports/reproduction_state.py pack  STORE.db  OUT.sqlite.xz  # a consistent copy
    python reports/reproduction_state.py unpack IN.sqlite.xz OUT.sqlite     # when OUT is older
    python reports/reproduction_state.py times STORE.db                     # wall time per study

pack reads through SQLite's online backup (a store in WAL mode, even one being written, gives a
consistent copy), drops free pages (VACUUM), then compresses; both write a temporary name and
rename it, so an interrupted save leaves the previous file whole.
"""

from __future__ import annotations

import lzma
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path


def pack(source: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        copy = Path(scratch) / "copy.sqlite"
        with sqlite3.connect(source) as reading, sqlite3.connect(copy) as writing:
            reading.backup(writing)
        with sqlite3.connect(copy) as writing:
            writing.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
            writing.execute("VACUUM")
        packed = Path(scratch) / "packed.xz"
        packed.write_bytes(lzma.compress(copy.read_bytes(), preset=9))
        os.replace(packed, target)
    print(f"saved {source} -> {target} ({target.stat().st_size / 1024:.0f} KiB)")


def unpack(source: Path, target: Path) -> None:
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return  # already unpacked from this version
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_bytes(lzma.decompress(source.read_bytes()))
    os.replace(temporary, target)
    print(f"unpacked {source} -> {target}")


TIMES = """
SELECT s.name, count(r.id), sum(r.status = 'completed'), min(r.started_at),
       max(coalesce(r.finished_at, r.heartbeat_at)),
       (SELECT sum(m.value) FROM morec_metrics m JOIN morec_runs t ON t.id = m.run_id
         WHERE t.study_id = s.id AND m.split = 'train' AND m.name = 'seconds'),
       group_concat(DISTINCT r.host || ' (' || r.device || ')')
  FROM morec_studies s LEFT JOIN morec_runs r ON r.study_id = s.id
 GROUP BY s.id ORDER BY min(r.started_at)"""


def times(store: Path) -> None:
    """Per study: its runs, the first start to the last finish (sittings' breaks included), the
    recorded training epochs' seconds in all (evaluation not counted) and the machines: what a
    closing note reports as the wall time and the machine of each part."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as reading:
        found = reading.execute(TIMES).fetchall()
    print("study | runs | completed | first start -> last finish (UTC) | training epochs | machines")
    for name, count, completed, first, last, seconds, machines in found:
        span = "-" if first is None else (
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(first))} -> "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(last))}")
        hours = "-" if seconds is None else f"{seconds / 3600:.2f} worker-h"
        print(f"{name} | {count} | {completed or 0} | {span} | {hours} | {machines or '-'}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "times":
        times(Path(sys.argv[2]))
        sys.exit(0)
    if len(sys.argv) != 4 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit("usage: python reports/reproduction_state.py pack|unpack SOURCE TARGET | "
                 "times STORE")
    (pack if sys.argv[1] == "pack" else unpack)(Path(sys.argv[2]), Path(sys.argv[3]))
