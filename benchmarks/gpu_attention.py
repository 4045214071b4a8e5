"""Which MPNet attention, compiled or not, and at which batch size: the E2E step on one GPU.

gpu_bench.py measured morec's E2E step (MPNet-base, batch 64) at 0.97x with torch's SDPA
attention against transformers' eager attention (the step is bound by the host launching
kernels), and the paper code's naive step (bound by the GPU) at 1.09x. This script times the
same step for every combination of attention (eager | sdpa), execution (eager | train.compile)
and batch size (64 | 256 users), on one model and the same batches, to choose the default.

On the accelerator machine, carrying .carry/gpu (staged by gpu_bench.py --stage):

    PYTHONPATH=. timeout 330 python3 benchmarks/gpu_attention.py --out "$OUT"

Prints a table and writes OUT/gpu_attention.json (rewritten after each measurement).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carry", type=Path, default=HERE.parent / ".carry" / "gpu")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-bench-out")))
    parser.add_argument("--model", default="mpnet-base")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-sizes", default="64,256")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--users", type=int, default=0, help="data.user_sample (0 = all)")
    parser.add_argument("--no-compile", action="store_true")
    arguments = parser.parse_args()

    os.environ.setdefault("MOREC_DATA_DIR", "/tmp/morec-gpu-bench-data")
    import numpy as np
    import torch

    sys.path.insert(0, str(HERE))
    from gpu_bench import attention, build, model_source, throughput, time_steps

    from morec_core.data.batches import train_batches

    model_path, pretrained = model_source(arguments.carry, arguments.model)
    data = arguments.carry / "raw" / "microlens-50k"
    built, placement = build(["data.source=microlens", f"data.path={data}",
                              f"data.user_sample={arguments.users}",
                              f"train.device={arguments.device}", "encoder.name=text",
                              f"encoder.model={model_path}",
                              f"encoder.pretrained={str(pretrained).lower()}",
                              "backbone.embed_dim=512"], arguments.device)
    device = placement.device
    warmup = 3
    batches = {}
    for size in map(int, arguments.batch_sizes.split(",")):
        made = train_batches(built._training, built.model.kind, batch_size=size,
                             rng=np.random.default_rng(0))
        batches[size] = [b.to(device) for b in itertools.islice(made, warmup + arguments.steps)]

    results: dict = {"device": placement.describe(), "torch": torch.__version__,
                     "transformers": __import__("transformers").__version__, "rows": []}
    out = arguments.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def measure(execution: str, kind: str) -> None:
        for size, sized in batches.items():
            began = time.perf_counter()
            with attention(kind, built.model):
                figures = throughput(built, sized, built.model.loss, placement, warmup=warmup,
                                     batch_size=size, peak=None, count_flops=False)
            figures.update(execution=execution, attention=kind, batch_size=size,
                           phase_s=time.perf_counter() - began)
            results["rows"].append(figures)
            (out / "gpu_attention.json").write_text(json.dumps(results, indent=1))
            print(f"[{time.perf_counter() - started:6.1f} s] {execution:8} {kind:5} batch {size:4}: "
                  f"{figures['samples_per_s']:8.1f} samples/s, {figures['s_per_step']:.4f} s/step, "
                  f"peak {figures.get('peak_memory_gib', float('nan')):.1f} GiB", flush=True)

    # One untimed pass first (see gpu_bench.py: the first phase measured ran slow).
    time_steps(built, batches[min(batches)], built.model.loss, placement, warmup=0)
    for kind in ("eager", "sdpa"):
        measure("eager", kind)
    if not arguments.no_compile:
        built.model.item_encoder.features.compile_network()
        for kind in ("sdpa", "eager"):  # a new attention module recompiles in the warm-up
            measure("compiled", kind)

    print("\n| execution | attention | batch | samples/s | s/step | peak GiB | vs eager-eager |")
    print("|---|---|---|---|---|---|---|")
    base = {row["batch_size"]: row["samples_per_s"] for row in results["rows"]
            if row["execution"] == "eager" and row["attention"] == "eager"}
    for row in results["rows"]:
        print(f"| {row['execution']} | {row['attention']} | {row['batch_size']} | "
              f"{row['samples_per_s']:.0f} | {row['s_per_step']:.4f} | "
              f"{row.get('peak_memory_gib', float('nan')):.1f} | "
              f"{row['samples_per_s'] / base[row['batch_size']]:.2f}x |")
    print(f"\n{results['device']}, torch {results['torch']}, "
          f"transformers {results['transformers']}; total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
