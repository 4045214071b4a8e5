"""The one command line of a run process: `python -m morec_core.launch RUN_ID --storage URL`,
which continues the run queued or recorded under RUN_ID (its spec is in the store) to its end,
fanning out under torchrun when asked for several processes (morec_core.launch.main).

Apart from launch.py so that the dashboard's job queue can build it without importing the store.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

ENTRY = "morec_core.launch"
"""The module a run process runs (`python -m`): an engine entry, never the shell."""


def run_process_argv(run_id: str, store_url: str, *, processes: int = 1,
                     stop_on_collapse: bool = True, quiet: bool = True) -> list[str]:
    """The command line of a process that runs the run queued or recorded under `run_id` in
    the store at `store_url` (its spec is there) to its end, on `processes` processes."""
    argv = [sys.executable, "-m", ENTRY, run_id, "--storage", store_url]
    if processes > 1:
        argv += ["--nproc-per-node", str(processes)]
    if quiet:
        argv.append("--quiet")
    return argv if stop_on_collapse else [*argv, "--no-stop-on-collapse"]


def torchrun_argv(processes: int, argv: Sequence[str]) -> list[str]:
    """`argv` (a `python -m MODULE ...` command line) as `processes` torchrun ranks on this
    machine."""
    python, flag, module, *arguments = argv
    assert flag == "-m", argv
    return [python, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={processes}", "-m", module, *arguments]
