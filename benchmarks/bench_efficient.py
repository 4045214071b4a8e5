"""Efficient MoRec arms against full end-to-end training, in one run (issue 18).

    .venv/bin/python benchmarks/bench_efficient.py [--device cpu|cuda] [--model minilm-l6]
        [--batch-size 8] [--steps 5] [--arms e2e,packed,naive,top2,lora,houlsby,side,ts,id]

Each arm is the real training step (build_run's model and optimizer, SASRec, BCE: forward,
backward, AdamW) on the same microlens-50k batches, in a process of its own so that its peak
memory is its own: samples (user sequences) per second, seconds per epoch at --epoch-users users,
peak memory, trainable parameters, and the one-time setup (data, model, and for ts and side the
extraction of the cache), with ratios against `e2e`. `naive` is the paper code's step
(bench_e2e_step.naive_loss: every position's title padded to 30 tokens); `packed` is encoder.packed
(attention kernel: jagged on CUDA, repad on a CPU), `packed_jagged` / `packed_repad` force one.

Peak memory: on CUDA torch's peak allocation during the timed steps; on a CPU the process's peak
resident set (ru_maxrss), which also holds the data and the model, and its rise during the steps.
On CUDA each E2E arm's MFU = 3 x forward FLOPs (torch's counter) per second / --peak-tflops
(989: H100/H200 bf16 dense); the packed arm's FLOPs have no padding, so its MFU is useful work.
`--model bert-base-random` is BERT-base's shape with random weights and MiniLM's tokenizer
(same WordPiece vocabulary): the base-size GPU case that packing supports (MPNet's relative
position bias does not pack).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARMS: dict[str, tuple[str, ...]] = {
    "e2e": (),
    "packed": ("encoder.packed=true",),  # attention kernel: packed.auto_kernel's choice
    "packed_jagged": ("encoder.packed=true",),
    "packed_repad": ("encoder.packed=true",),
    "naive": (),  # the e2e model, stepped as the paper's code does
    "top2": ("encoder.finetune_layers=2",),
    "lora": ("encoder.adapter=lora", "encoder.adapter_rank=8"),
    "houlsby": ("encoder.adapter=houlsby", "encoder.adapter_rank=64"),
    "side": ("encoder.adapter=side", "encoder.adapter_rank=64"),
    "ts": ("encoder.mode=two_stage",),
    "id": ("encoder.name=id",),
}
E2E_ARMS = ("e2e", "packed", "packed_jagged", "packed_repad", "naive")
DEFAULT_ARMS = ("e2e", "packed", "naive", "top2", "lora", "houlsby", "side", "ts", "id")


def random_bert_base(folder: Path, tokenizer: str) -> Path:
    """A BERT-base configuration (768 x 12, random weights) with the tokenizer files of
    `tokenizer` (MiniLM-L6's: BERT's uncased WordPiece vocabulary)."""
    from transformers import BertConfig

    from morec_core.encoders.text import load_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    BertConfig().save_pretrained(folder)
    load_tokenizer(tokenizer).save_pretrained(folder)
    return folder


def spec_of(arguments: argparse.Namespace, arm: str, model: str):
    from morec_core.config import RunSpec

    pretrained = "false" if arguments.model == "bert-base-random" else "true"
    return RunSpec().with_overrides([
        "data.source=microlens", f"data.path={arguments.shared / 'microlens-50k'}",
        f"data.user_sample={arguments.users}", "encoder.name=text", f"encoder.model={model}",
        f"encoder.pretrained={pretrained}", "backbone.embed_dim=512",
        f"train.batch_size={arguments.batch_size}", f"train.device={arguments.device}",
        f"train.seed={arguments.seed}", *ARMS[arm]])


def measure(arguments: argparse.Namespace, arm: str) -> dict:
    """One arm, in this process: its cost figures."""
    from morec_core.encoders import packed
    from morec_core.run.build import build_run
    from morec_core.run.cost import count_parameters, flops_of
    from morec_core.run.devices import place

    if arm.startswith("packed_"):
        kernel = arm.removeprefix("packed_")
        packed.auto_kernel = lambda device: kernel  # type: ignore[assignment]
    model_name = arguments.model
    if model_name == "bert-base-random":
        model_name = str(random_bert_base(Path(os.environ["MOREC_DATA_DIR"]) / "bert-base",
                                          arguments.tokenizer))
    spec = spec_of(arguments, arm, model_name)
    placement = place(spec.train.device, spec.train.precision)
    device = placement.device
    started = time.perf_counter()
    torch.manual_seed(arguments.seed)
    built = build_run(spec, device)
    setup = time.perf_counter() - started
    model, optimizer = built.model, built.optimizer
    loss_of = model.loss
    if arm == "naive":
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_e2e_step import naive_loss

        def loss_of(batch):
            return naive_loss(model, batch)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    batches = iter(built.train_batches(np.random.default_rng(arguments.seed)))
    model.train()

    def step() -> float:
        batch = next(batches).to(device)
        sync()
        begin = time.perf_counter()
        with placement.autocast():
            loss = loss_of(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync()
        return time.perf_counter() - begin

    for _ in range(arguments.warmup):
        step()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = [step() for _ in range(arguments.steps)]
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    median = statistics.median(seconds)
    result = {
        "arm": arm, "setup_s": setup, "step_s": median,
        "samples_per_s": arguments.batch_size / median,
        "s_per_epoch": arguments.epoch_users / (arguments.batch_size / median),
        "trainable_params": count_parameters(model)[0], "total_params": count_parameters(model)[1],
        "peak_bytes": (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
                       else rss_after),
        "rise_bytes": None if device.type == "cuda" else rss_after - rss_before,
    }
    if device.type == "cuda" and arm in E2E_ARMS:
        batch = next(batches).to(device)
        # torch's counter cannot trace nested tensors: count the packed arms' FLOPs on the
        # repad kernel, whose attention also covers padding (an upper bound by a few percent).
        chosen, packed.auto_kernel = packed.auto_kernel, lambda device: "repad"  # type: ignore
        with placement.autocast():
            flops = flops_of(lambda: loss_of(batch))
        packed.auto_kernel = chosen  # type: ignore[assignment]
        seconds_of_it = step()  # the same kind of step, for FLOPs per second
        if flops:
            result["mfu"] = 3 * flops / seconds_of_it / (arguments.peak_tflops * 1e12)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--model", default="minilm-l6",
                        help="packaged text model (minilm-l6, mpnet-base), a folder, or "
                             "bert-base-random")
    parser.add_argument("--tokenizer", default="minilm-l6",
                        help="bert-base-random's tokenizer: a packaged name or a folder (on the "
                             "GPU machine .carry/gpu/models/minilm-l6, staged by gpu_bench.py)")
    parser.add_argument("--arms", default=",".join(DEFAULT_ARMS), help=f"of {', '.join(ARMS)}")
    parser.add_argument("--batch-size", type=int, default=8, help="users per step")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per arm")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--users", type=int, default=2000, help="user sample of microlens-50k")
    parser.add_argument("--epoch-users", type=int, default=50_000,
                        help="sequences in an epoch, for s/epoch (microlens-50k: 50,000)")
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="the GPU's dense bf16 peak, for MFU")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one arm, printed as JSON
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    if arguments.child:
        print(json.dumps(measure(arguments, arguments.child)))
        return 0

    arms = [arm.strip() for arm in arguments.arms.split(",") if arm.strip()]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        parser.error(f"--arms: unknown {', '.join(unknown)}; known: {', '.join(ARMS)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-efficient-") as data_dir:
        # One data folder for every arm: each arm's caches (tokens, two-stage features, layer
        # states) are built by the first arm that needs them, inside its setup time.
        environment = {**os.environ, "MOREC_DATA_DIR": data_dir}
        child_arguments = [f"--{name.replace('_', '-')}={value}"
                           for name, value in vars(arguments).items()
                           if name not in ("json", "child", "arms")]
        for arm in arms:
            done = subprocess.run([sys.executable, __file__, *child_arguments, "--child", arm],
                                  env=environment, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{arm}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  {arm}: {results[-1]['step_s']:.3f} s/step", file=sys.stderr, flush=True)
    print_table(arguments, results)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if len(results) == len(arms) else 1


def print_table(arguments: argparse.Namespace, results: list[dict]) -> None:
    reference = next((r for r in results if r["arm"] == "e2e"), None)
    print(f"microlens-50k ({arguments.users} users), {arguments.model}, {arguments.device}, "
          f"batch {arguments.batch_size} users, median of {arguments.steps} steps after "
          f"{arguments.warmup}, {arguments.threads} threads, torch {torch.__version__}")
    cpu = arguments.device == "cpu"
    memory = "peak RSS" if cpu else "peak alloc"
    header = (f"| arm | trainable params | samples/s | s/epoch ({arguments.epoch_users:,}) | "
              f"E2E time / arm | {memory} MiB | E2E mem / arm |"
              + (" step rise MiB |" if cpu else " MFU |") + " setup s |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in results:
        time_ratio = reference["step_s"] / r["step_s"] if reference else float("nan")
        memory_ratio = reference["peak_bytes"] / r["peak_bytes"] if reference else float("nan")
        extra = (f"{r['rise_bytes'] / 2**20:.0f}" if cpu
                 else (f"{100 * r['mfu']:.1f}%" if "mfu" in r else ""))
        print(f"| {r['arm']} | {r['trainable_params']:,} | {r['samples_per_s']:.2f} | "
              f"{r['s_per_epoch']:.0f} | {time_ratio:.2f}x | {r['peak_bytes'] / 2**20:.0f} | "
              f"{memory_ratio:.2f}x | {extra} | {r['setup_s']:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
