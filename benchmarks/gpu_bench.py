"""GPU throughput of E2E MoRec (MPNet-base) and IDRec on microlens-50k: samples/s and MFU.

Here (once, on a machine with the packaged models and ../shared/data), stage what travels:

    .venv/bin/python benchmarks/gpu_bench.py --stage .carry/gpu

On the accelerator machine, from the repository root, under a hard cap (benchmarks/gpu_bench.sh):

    PYTHONPATH=. python3 benchmarks/gpu_bench.py --carry .carry/gpu --out "$OUT"

The staged folder (about 6 MB) holds the raw microlens-50k files and, per text model, its config
and tokenizer. Model weights do not travel (MPNet-base is 438 MB, the tree may carry 64 MiB):
a model folder without weights is built with random weights (encoder.pretrained=false), which
runs exactly the same kernels, so samples/s and MFU are those of the pretrained model. A folder
with weights is used as is. Only morec_core modules that need torch, numpy, pandas and
transformers are imported; the run checks that no UI, CLI or store library was loaded.

Phases (each writes its figures to OUT/gpu_bench.json as soon as it ends; past --budget seconds
the rest are skipped; an experimental phase that fails records its error and the run goes on):
  morec-e2e    SASRec + MPNet-base fine-tuned end to end, bf16 autocast, batch 64: morec's step
               (MPNet's attention through torch's SDPA, encoders/attention.py)
  morec-e2e-eager-attention  the same step with transformers' eager MPNet attention: what SDPA
               gives (--skip eager-attention)
  naive-e2e    the paper code's step on the same batches and weights (bench_e2e_step.naive_loss),
               with transformers' eager attention, as the paper's code ran; the target ratio
  naive-e2e-sdpa  the naive step with SDPA attention: how much of the ratio is encoding each
               distinct item once (--skip naive-sdpa)
  morec-eval   full-ranking validation: item table through the encoder, all users x all items,
               as iter_run calls it (bf16 autocast) and in fp32
  (with morec-e2e: the same steps with fused AdamW, and a torch.profiler table of 3 steps in
   OUT/profile.txt; --skip optimizer,profile leaves them out)
  morec-e2e-compiled  the E2E step with train.compile=true: the text encoder under
               torch.compile(dynamic=True) (--skip compile leaves it out)
  morec-top2   top-2-layer fine-tuning: the frozen lower layers' outputs cached once
  idrec        IDRec SASRec (d 64, batch 128): one whole epoch and one validation
MFU = FLOPs counted by torch's FlopCounterMode on the same batches (forward + backward) / time /
the card's dense bf16 peak (H100 SXM and H200: 989 TFLOP/s; --peak-tflops for another card).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "data"
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
               "special_tokens_map.json")
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("H800", 989.0),
                    ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0))
# What the GPU machine may lack and morec_core must not need. (rich is left out: a library of the
# device's image imports it, which says nothing of morec_core.)
NOT_ON_THE_DEVICE = ("typer", "textual", "optuna", "sqlalchemy", "plotext", "morec_tui")


def stage(target: Path, shared: Path) -> None:
    """Copy what the accelerator machine needs into `target` (an ignored folder to carry)."""
    from morec_core.encoders import packaged

    raw = target / "raw" / "microlens-50k"
    raw.mkdir(parents=True, exist_ok=True)
    for name in ("MicroLens-50k_pairs.tsv", "MicroLens-50k_titles.csv"):
        shutil.copyfile(shared / "microlens-50k" / name, raw / name)
    for short in ("mpnet-base", "minilm-l6"):
        if not packaged.installed(short):
            print(f"{short}: not installed here, not staged ({'; '.join(packaged.pip_lines(short))})")
            continue
        source = packaged.TEXT_MODELS[short]()
        folder = target / "models" / short
        folder.mkdir(parents=True, exist_ok=True)
        for name in MODEL_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, folder / name)
    size = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
    print(f"staged {target}: {size / 2**20:.1f} MiB")


class Recorder:
    """Keeps the figures and rewrites OUT/gpu_bench.json after every phase."""

    def __init__(self, out: Path, budget_s: float) -> None:
        self.out, self.budget_s, self.started = out, budget_s, time.perf_counter()
        self.results: dict = {"date": datetime.date.today().isoformat(), "phases": {}}
        out.mkdir(parents=True, exist_ok=True)

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)

    def save(self, phase: str | None = None, figures: dict | None = None) -> None:
        if phase is not None:
            self.results["phases"][phase] = figures
            print(f"[{time.perf_counter() - self.started:6.1f} s] {phase}: "
                  + ", ".join(f"{k} {_fmt(v)}" for k, v in figures.items()), flush=True)
        (self.out / "gpu_bench.json").write_text(json.dumps(self.results, indent=1))


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def peak_flops(device, override: float | None) -> float | None:
    import torch

    if override:
        return override * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((tflops * 1e12 for key, tflops in PEAK_BF16_TFLOPS if key in name), None)


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compiled_step(built, batches, placement, warmup: int, batch_size: int, recorder) -> dict:
    """The E2E step as train.compile=true runs it: the text encoder's transformer compiled in
    place with dynamic shapes (the number of distinct items and the title width change every
    step, and must not recompile). Undone afterwards, so later phases run eager."""
    features = built.model.item_encoder.features
    features.compile_network()
    try:
        began = time.perf_counter()
        time_steps(built, batches[:warmup], built.model.loss, placement, warmup=0)
        compile_seconds = time.perf_counter() - began  # the warm-up steps, compilation included
        figures = throughput(built, batches, built.model.loss, placement, warmup=warmup,
                             batch_size=batch_size, peak=None, count_flops=False)
    finally:
        features.model._compiled_call_impl = None  # nn.Module.compile's slot: back to eager
    figures["compile_and_warmup_s"] = compile_seconds
    from torch._dynamo.utils import counters

    stats = counters["stats"]
    figures["dynamo_unique_graphs"] = int(stats.get("unique_graphs", 0))
    ours = recorder.results["phases"].get("morec-e2e")
    if ours:
        figures["speedup_over_eager"] = figures["samples_per_s"] / ours["samples_per_s"]
    naive = recorder.results["phases"].get("naive-e2e")
    if naive:
        figures["speedup_over_naive"] = figures["samples_per_s"] / naive["samples_per_s"]
    return figures


def guarded(recorder, phase: str, measure) -> None:
    """Run an experimental phase; a failure is recorded as its result and the run goes on."""
    try:
        recorder.save(phase, measure())
    except Exception as error:  # noqa: BLE001 - an experiment's failure is a result too
        recorder.save(phase, {"error": f"{type(error).__name__}: {error}"[:500]})


def profile_steps(built, batches, placement, path: Path) -> None:
    """torch.profiler over the last 3 of `batches` (the first ones warm up): where a step's time
    goes, kernels by CUDA time, and host time against device time (a launch-bound step has
    much more of the first)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if placement.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    time_steps(built, batches[:-3], built.model.loss, placement, warmup=0)
    began = time.perf_counter()
    with profile(activities=activities) as profiler:
        time_steps(built, batches[-3:], built.model.loss, placement, warmup=0)
    wall = time.perf_counter() - began
    sort_by = "cuda_time_total" if placement.device.type == "cuda" else "cpu_time_total"
    events = profiler.key_averages()
    # Kernels only, as torch's own table totals them: CPU-side ops carry their kernels' time too,
    # and summing every event counted it twice (251 ms against the table's 124 on the H200).
    device_us = sum(event.self_device_time_total for event in events
                    if event.device_type != DeviceType.CPU and not event.is_user_annotation)
    text = (f"3 steps: wall {wall * 1e3:.1f} ms, device busy {device_us / 1e3:.1f} ms "
            f"(kernels' self time; the rest is the device waiting on the host)\n\n"
            + events.table(sort_by=sort_by, row_limit=30, max_name_column_width=60))
    path.write_text(text)
    print(text.splitlines()[0], flush=True)


def count_step_flops(model, batches, loss_of, placement) -> float:
    """Forward + backward FLOPs of loss_of over `batches` (weights untouched)."""
    from torch.utils.flop_counter import FlopCounterMode

    total = 0.0
    for batch in batches:
        with FlopCounterMode(display=False) as counter:
            with placement.autocast():
                loss = loss_of(batch)
            loss.backward()
        model.zero_grad(set_to_none=True)
        total += counter.get_total_flops()
    return total


def time_steps(built, batches, loss_of, placement, warmup: int) -> tuple[float, int]:
    """Seconds of len(batches) - warmup training steps as train._train_epoch runs them."""
    import torch

    if len(batches) <= warmup:
        raise ValueError(f"{len(batches)} batches leave none to time after {warmup} warm-up "
                         "steps: use more users or a smaller batch")
    model, optimizer = built.model, built.optimizer
    model.train()
    for index, batch in enumerate(batches):
        if index == warmup:
            sync(placement.device)
            started = time.perf_counter()
        with placement.autocast():
            loss = loss_of(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(placement.device)
    if not torch.isfinite(loss):
        raise RuntimeError("the loss is not finite")
    return time.perf_counter() - started, len(batches) - warmup


def throughput(built, batches, loss_of, placement, *, warmup: int, batch_size: int,
               peak: float | None, count_flops: bool = True, repeats: int = 2) -> dict:
    """The fastest of `repeats` passes over the batches: the first pass of a phase also pays
    for new kernel shapes and clocks ramping up, which a long run does not."""
    import torch

    device = placement.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds, steps = min(time_steps(built, batches, loss_of, placement, warmup)
                         for _ in range(repeats))
    figures = {"steps": steps, "s_per_step": seconds / steps,
               "samples_per_s": steps * batch_size / seconds}
    if count_flops:
        flops = count_step_flops(built.model, batches[warmup:], loss_of, placement)
        figures["tflop_per_step"] = flops / steps / 1e12
        figures["achieved_tflops"] = flops / seconds / 1e12
        if peak:
            figures["mfu"] = flops / seconds / peak
    if device.type == "cuda":
        figures["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return figures


@contextlib.contextmanager
def attention(kind: str, model):
    """MPNet's attention as `kind` (eager | sdpa) inside the block, morec's SDPA after it."""
    from morec_core.encoders.attention import use_eager, use_sdpa

    if kind == "eager":
        use_eager(model)
    try:
        yield
    finally:
        use_sdpa(model)


def build(overrides: list[str], device_name: str):
    import torch

    from morec_core.config import RunSpec
    from morec_core.run.build import build_run
    from morec_core.run.devices import place

    spec = RunSpec().with_overrides(overrides)
    placement = place(device_name, spec.train.precision)
    torch.manual_seed(spec.train.seed)
    return build_run(spec, placement.device), placement


def model_source(carry: Path, name: str) -> tuple[str, bool]:
    """(encoder.model, pretrained): a staged folder (random weights when it has none), else the
    packaged short name where this machine has it installed."""
    folder = carry / "models" / name
    if folder.is_dir():
        return str(folder), (folder / "model.safetensors").is_file()
    return name, True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=Path, help="stage the carry folder here, then exit")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--carry", type=Path, default=ROOT / ".carry" / "gpu")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-bench-out")))
    parser.add_argument("--model", default="mpnet-base", help="mpnet-base | minilm-l6 | folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20, help="timed E2E steps of morec")
    parser.add_argument("--naive-steps", type=int, default=8, help="timed naive steps")
    parser.add_argument("--batch-size", type=int, default=64, help="MoRec users per step")
    parser.add_argument("--id-batch-size", type=int, default=128, help="IDRec users per step")
    parser.add_argument("--id-steps", type=int, default=0, help="IDRec steps; 0 = one epoch")
    parser.add_argument("--users", type=int, default=0, help="data.user_sample (0 = all)")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds; later phases skip")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--skip", default="", help="comma-separated phases to skip")
    arguments = parser.parse_args()
    if arguments.stage:
        stage(arguments.stage, arguments.shared)
        return 0

    os.environ.setdefault("MOREC_DATA_DIR", "/tmp/morec-gpu-bench-data")
    import numpy as np
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_e2e_step import naive_loss

    recorder = Recorder(arguments.out, arguments.budget)
    skip = set(filter(None, arguments.skip.split(",")))
    raw = arguments.carry / "raw" / "microlens-50k"
    data_path = raw if raw.is_dir() else arguments.shared / "microlens-50k"
    model_path, pretrained = model_source(arguments.carry, arguments.model)
    common = ["data.source=microlens", f"data.path={data_path}", f"data.user_sample={arguments.users}",
              f"train.device={arguments.device}"]
    e2e = [*common, "encoder.name=text", f"encoder.model={model_path}",
           f"encoder.pretrained={str(pretrained).lower()}", "backbone.embed_dim=512",
           f"train.batch_size={arguments.batch_size}"]

    started = time.perf_counter()
    built, placement = build(e2e, arguments.device)
    device = placement.device
    peak = peak_flops(device, arguments.peak_tflops)
    recorder.results["setup"] = {
        "device": placement.describe(), "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "model": arguments.model, "pretrained_weights": pretrained,
        "peak_bf16_tflops": peak / 1e12 if peak else None,
        "users": built.dataset.num_users, "items": built.dataset.num_items,
        "build_s": time.perf_counter() - started}
    recorder.save()
    print(f"{placement.describe()}, torch {torch.__version__}, {arguments.model} "
          f"({'pretrained' if pretrained else 'random'} weights), "
          f"{built.dataset.num_users} users x {built.dataset.num_items} items", flush=True)

    warmup = 3
    rng = np.random.default_rng(0)
    batches = [b.to(device) for b in itertools.islice(built.train_batches(rng),
                                                      warmup + arguments.steps)]
    model = built.model
    # One untimed pass first: on an H100 the first phase measured was 4-10% slower than the same
    # step measured later in the run (two runs, either attention first); clocks and the caching
    # allocator settle here rather than in a phase.
    time_steps(built, batches, model.loss, placement, warmup=0)
    if "morec-e2e" not in skip:
        figures = throughput(built, batches, model.loss, placement, warmup=warmup,
                             batch_size=arguments.batch_size, peak=peak)
        distinct = [len(torch.unique(b.item_ids())) for b in batches]
        figures["distinct_items_per_step"] = float(np.mean(distinct))
        figures["optimizer"] = "fused AdamW" if built.optimizer.defaults.get("fused") else "AdamW"
        recorder.save("morec-e2e", figures)
        if "eager-attention" not in skip:
            def eager_attention() -> dict:
                # The same step with transformers' eager MPNet attention (what morec ran before).
                with attention("eager", model):
                    eager = throughput(built, batches, model.loss, placement, warmup=warmup,
                                       batch_size=arguments.batch_size, peak=peak)
                eager["sdpa_speedup"] = figures["samples_per_s"] / eager["samples_per_s"]
                return eager
            guarded(recorder, "morec-e2e-eager-attention", eager_attention)
        if device.type == "cuda" and "optimizer" not in skip:
            # The same steps with fused AdamW (morec uses torch's default, foreach, on CUDA).
            default_optimizer = built.optimizer
            built.optimizer = torch.optim.AdamW(
                [{key: value for key, value in group.items() if key not in ("fused", "foreach")}
                 for group in default_optimizer.param_groups], fused=True)
            fused = throughput(built, batches, model.loss, placement, warmup=warmup,
                               batch_size=arguments.batch_size, peak=peak, count_flops=False)
            fused["fused_speedup"] = fused["samples_per_s"] / figures["samples_per_s"]
            recorder.save("morec-e2e-fused-adamw", fused)
            built.optimizer = default_optimizer
        if "profile" not in skip:
            profile_steps(built, batches[:warmup + 3], placement, arguments.out / "profile.txt")
    naive_batches = batches[:2 + arguments.naive_steps]
    for phase, kind in (("naive-e2e", "eager"), ("naive-e2e-sdpa", "sdpa")):
        if phase in skip or (kind == "sdpa" and "naive-sdpa" in skip) or recorder.left() < 60:
            continue

        def naive(kind=kind) -> dict:
            # The paper's code ran transformers' eager attention; the SDPA variant says how
            # much of the ratio is the attention kernel rather than encoding items once.
            with attention(kind, model):
                figures = throughput(built, naive_batches, lambda b: naive_loss(model, b),
                                     placement, warmup=2, batch_size=arguments.batch_size,
                                     peak=peak, count_flops=kind == "eager")
            figures["titles_per_step"] = (2 * batches[0].inputs.shape[0]
                                          * (model.backbone.max_length + 1))
            ours = recorder.results["phases"].get("morec-e2e")
            if ours:
                figures["morec_speedup"] = ours["samples_per_s"] / figures["samples_per_s"]
            return figures
        guarded(recorder, phase, naive)
    if "morec-eval" not in skip and recorder.left() > 60:
        # As iter_run runs it (under the run's autocast: bf16 here), then in fp32 as it ran
        # before (the item table through the encoder in fp32).
        figures = {}
        for label, context in (("seconds", placement.autocast),
                               ("seconds_fp32", contextlib.nullcontext)):
            sync(device)
            began = time.perf_counter()
            with context():
                metrics = built.evaluate("valid")
            sync(device)
            figures[label] = time.perf_counter() - began
        figures.update(users=metrics["users"], items=built.dataset.num_items)
        recorder.save("morec-eval", figures)
    if "compile" not in skip and recorder.left() > 150:
        guarded(recorder, "morec-e2e-compiled",
                lambda: compiled_step(built, batches, placement, warmup, arguments.batch_size,
                                      recorder))
    built = batches = model = None  # frees the E2E model for the phases below
    if device.type == "cuda":
        torch.cuda.empty_cache()

    if "morec-top2" not in skip and recorder.left() > 90:
        began = time.perf_counter()
        top2, _ = build([*e2e, "encoder.finetune_layers=2"], arguments.device)
        sync(device)
        precompute = time.perf_counter() - began  # build includes precompute_frozen
        batches = [b.to(device) for b in itertools.islice(
            top2.train_batches(np.random.default_rng(0)), warmup + arguments.steps)]
        figures = throughput(top2, batches, top2.model.loss, placement, warmup=warmup,
                             batch_size=arguments.batch_size, peak=peak)
        figures["build_and_precompute_s"] = precompute
        recorder.save("morec-top2", figures)
        del top2, batches
        if device.type == "cuda":
            torch.cuda.empty_cache()

    if "idrec" not in skip and recorder.left() > 30:
        idrec, _ = build([*common, f"train.batch_size={arguments.id_batch_size}"], arguments.device)
        rng = np.random.default_rng(0)
        batches = [b.to(device) for b in idrec.train_batches(rng)]
        if arguments.id_steps:
            batches = batches[:warmup + arguments.id_steps]
        figures = throughput(idrec, batches, idrec.model.loss, placement, warmup=warmup,
                             batch_size=arguments.id_batch_size, peak=peak, count_flops=False)
        flops = count_step_flops(idrec.model, batches[warmup:warmup + 5], idrec.model.loss,
                                 placement) / 5
        figures["tflop_per_step"] = flops / 1e12
        figures["achieved_tflops"] = flops / figures["s_per_step"] / 1e12
        if peak:
            figures["mfu"] = flops / figures["s_per_step"] / peak
        figures["epoch_s_estimate"] = figures["s_per_step"] * len(idrec.train_batches(rng))
        sync(device)
        began = time.perf_counter()
        with placement.autocast():
            idrec.evaluate("valid")
        sync(device)
        figures["eval_s"] = time.perf_counter() - began
        recorder.save("idrec", figures)

    loaded = sorted(name for name in NOT_ON_THE_DEVICE if name in sys.modules)
    recorder.results["modules_not_on_the_device_loaded"] = loaded
    recorder.results["total_s"] = time.perf_counter() - recorder.started
    recorder.save()
    write_markdown(recorder.results, arguments.out / "gpu_bench.md")
    print((arguments.out / "gpu_bench.md").read_text())
    return 1 if loaded else 0


def write_markdown(results: dict, path: Path) -> None:
    """The table to paste into benchmarks/README.md."""
    setup, phases = results["setup"], results["phases"]
    lines = [f"### {results['date']}, {setup['device']}",
             "",
             f"torch {setup['torch']}, transformers {setup['transformers']}; {setup['model']} "
             f"with {'pretrained' if setup['pretrained_weights'] else 'random (same kernels)'} "
             f"weights; microlens-50k, {setup['users']} users x {setup['items']} items.",
             "",
             "| phase | samples/s | s/step | TFLOP/step | achieved TFLOP/s | MFU | peak GiB |",
             "|---|---|---|---|---|---|---|"]
    for name, figures in phases.items():
        if "samples_per_s" not in figures:
            continue
        cells = [f"{figures.get(key, float('nan')):.3g}" for key in
                 ("samples_per_s", "s_per_step", "tflop_per_step", "achieved_tflops")]
        mfu = figures.get("mfu")
        cells.append(f"{100 * mfu:.1f}%" if mfu is not None else "n/a")
        cells.append(f"{figures.get('peak_memory_gib', float('nan')):.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    extra = []
    for name, figures in phases.items():
        if "error" in figures:
            extra.append(f"{name} failed: {figures['error']}")
    for name in ("naive-e2e", "naive-e2e-sdpa"):
        if "morec_speedup" in phases.get(name, {}):
            extra.append(f"morec's E2E step is {phases[name]['morec_speedup']:.2f}x the {name} "
                         "step's samples/s on the same batches.")
    if "sdpa_speedup" in phases.get("morec-e2e-eager-attention", {}):
        extra.append(f"SDPA MPNet attention: {phases['morec-e2e-eager-attention']['sdpa_speedup']:.2f}x"
                     " the E2E step's samples/s with transformers' eager attention.")
    if "seconds" in phases.get("morec-eval", {}):
        extra.append(f"E2E full-ranking validation: {phases['morec-eval']['seconds']:.1f} s as "
                     f"iter_run runs it (bf16 autocast), {phases['morec-eval']['seconds_fp32']:.1f}"
                     " s in fp32.")
    if "fused_speedup" in phases.get("morec-e2e-fused-adamw", {}):
        extra.append(f"Fused AdamW: {phases['morec-e2e-fused-adamw']['fused_speedup']:.2f}x the "
                     "E2E step's samples/s with torch's default (foreach) AdamW.")
    if "compile_and_warmup_s" in phases.get("morec-e2e-compiled", {}):
        compiled = phases["morec-e2e-compiled"]
        extra.append(f"E2E step with the text encoder under torch.compile: "
                     f"{compiled.get('speedup_over_eager', float('nan')):.2f}x the eager step, "
                     f"{compiled.get('speedup_over_naive', float('nan')):.2f}x the naive step "
                     f"(compilation and warm-up {compiled['compile_and_warmup_s']:.0f} s).")
    if "idrec" in phases:
        extra.append(f"IDRec: epoch about {phases['idrec']['epoch_s_estimate']:.1f} s, "
                     f"validation {phases['idrec']['eval_s']:.1f} s.")
    path.write_text("\n".join(lines + [""] + extra) + "\n")


if __name__ == "__main__":
    sys.exit(main())
