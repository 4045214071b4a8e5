"""Full-ranking evaluation: morec's `evaluate` against the bare matrix product.

    .venv/bin/python benchmarks/bench_eval.py [--repeats 3] [--batch-size 1024]

On microlens-50k (50,000 users, 19,158 items) with an IDRec SASRec (d = 64; timing does not
depend on training), the test split, every user ranked against every item:

  bare      user states (precomputed) @ item table.T in batches of users, then top-10: the least
            any full ranking has to do once the user vectors exist;
  states    the item table and every user's state through SASRec, in evaluate's user batches;
  evaluate  morec's `evaluate` end to end: item table, user states, scores, history masking,
            ranks of the targets, HR@10 and NDCG@10.

Printed: the median seconds of each over --repeats, and the ratios. Target: the ranking part of
evaluate (evaluate - states) within 2x of bare; evaluate within 2x of bare + states.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--batch-size", type=int, default=1024, help="users per batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--evaluate-from", type=Path, metavar="FILE",
                        help="time the evaluate() of this file instead (a before/after check: "
                             "git show REV:morec_core/run/evaluate.py > FILE)")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    from morec_core.config import RunSpec
    from morec_core.data.batches import eval_batches
    from morec_core.run.build import build_run
    from morec_core.run.evaluate import evaluate

    if arguments.evaluate_from:
        import importlib.util

        module_spec = importlib.util.spec_from_file_location("evaluate_before",
                                                             arguments.evaluate_from)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        evaluate = module.evaluate
        print(f"evaluate() from {arguments.evaluate_from}")

    spec = RunSpec().with_overrides([
        "data.source=microlens", f"data.path={arguments.shared / 'microlens-50k'}",
        "train.device=cpu", f"eval.batch_size={arguments.batch_size}"])
    torch.manual_seed(0)
    built = build_run(spec, torch.device("cpu"))
    model, dataset = built.model.eval(), built.dataset
    print(f"microlens-50k: {dataset.num_users} users x {dataset.num_items} items, "
          f"batch {arguments.batch_size} users, {arguments.threads} threads")

    @torch.inference_mode()
    def states() -> tuple[torch.Tensor, torch.Tensor]:
        items = model.item_table().float()  # (I + 1, d)
        users = [model.backbone.user_state(batch, lambda ids: items[ids])
                 for batch in eval_batches(dataset, "test", batch_size=arguments.batch_size)]
        return torch.cat(users), items  # (U, d)

    @torch.inference_mode()
    def bare(users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        tops = []
        for begin in range(0, len(users), arguments.batch_size):
            scores = users[begin:begin + arguments.batch_size] @ items.T  # (B, I + 1)
            scores[:, 0] = float("-inf")
            tops.append(scores.topk(10, dim=1).indices)
        return torch.cat(tops)

    def run_evaluate(mask_history: bool) -> dict:
        return evaluate(model, dataset, "test", k=10, mask_history=mask_history,
                        batch_size=arguments.batch_size, device="cpu")

    seconds: dict[str, list[float]] = {"states": [], "bare": [], "evaluate": [],
                                       "evaluate, history not masked": []}
    for _ in range(arguments.repeats):
        took, (users, items) = timed(states)
        seconds["states"].append(took)
        seconds["bare"].append(timed(lambda users=users, items=items: bare(users, items))[0])
        took, metrics = timed(lambda: run_evaluate(True))
        seconds["evaluate"].append(took)
        seconds["evaluate, history not masked"].append(timed(lambda: run_evaluate(False))[0])
    median = {name: statistics.median(values) for name, values in seconds.items()}
    assert metrics["users"] == dataset.num_users
    print(f"\n{'median seconds over ' + str(arguments.repeats) + ' repeats':<44}{'':>8}")
    for name, value in median.items():
        print(f"  {name:<42}{value:>8.2f}")
    ranking = median["evaluate"] - median["states"]
    print(f"  {'evaluate - states (scores, masks, ranks)':<42}{ranking:>8.2f}")
    print(f"\nratio, ranking part of evaluate / bare matrix product + top-k: "
          f"{ranking / median['bare']:.2f} (target: <= 2)")
    print(f"ratio, evaluate / (states + bare): "
          f"{median['evaluate'] / (median['states'] + median['bare']):.2f} (target: <= 2)")
    print(f"users per second through evaluate: {dataset.num_users / median['evaluate']:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
