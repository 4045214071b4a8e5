"""A run's CPU peak memory is its own: measured from a reset, not the process's lifetime peak
(issue 24: a worker's second run recorded the first run's memory)."""

import subprocess
import sys
import textwrap


def test_a_reset_forgets_a_larger_peak_before_it():
    # A fresh process of its own: the test runner's peak is not this test's business.
    code = textwrap.dedent("""
        import torch
        from morec_core.run import cost

        device = torch.device("cpu")
        big = torch.ones(400 * 2**20 // 4)  # 400 MiB, touched: an earlier, larger run
        del big
        before = cost.peak_memory_bytes(device)
        cost.reset_peak_memory(device)
        small = torch.ones(40 * 2**20 // 4)  # 40 MiB: this run
        print(cost.peak_memory_bytes(device), before)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    run, before = map(int, result.stdout.split())
    # The 400 MiB tensor is in the peak before the reset, not in the run's.
    assert before - run > 300 * 2**20, (run, before)
