"""`python -m morec_tui.jobs JOB_ID --root DIR`: one job's runner (the command a queue records and
recognises its runner by)."""

import argparse
import sys
from pathlib import Path

from morec_tui.jobs.runner import run_job

parser = argparse.ArgumentParser(prog="python -m morec_tui.jobs",
                                 description="Run one job of the dashboard's queue.")
parser.add_argument("job_id", type=int)
parser.add_argument("--root", type=Path, required=True)
arguments = parser.parse_args()
sys.exit(run_job(arguments.root, arguments.job_id))
