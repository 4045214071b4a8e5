"""Accuracy and time of IDRec vs MoRec on the real data beside the checkout (issue 4).

    python benchmarks/bench_accuracy.py --profile cpu     # 2 CPU cores: subsample + top layers
    python benchmarks/bench_accuracy.py --profile gpu     # one GPU: full data, end to end

Runs, each through the same `iter_run` as `morec run`, best epoch chosen on validation:
1. IDRec SASRec on microlens-50k;
2. text MoRec: SASRec + packaged MiniLM-L6 on microlens-50k
   (cpu profile: 3,000-user subsample, top 1 layer fine-tuned over cached lower layers;
    gpu profile: all users, every layer fine-tuned);
3. vision MoRec: SASRec + packaged MobileNetV2 on movielens-small-posters at 112 px
   (cpu profile: top 2 stages fine-tuned; gpu profile: every layer).
Prints one line per run with test HR@10 / NDCG@10 (%) and seconds per epoch.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from morec_core.config import RunSpec
from morec_core.run import events as ev
from morec_core.run.train import RunContext, iter_run

SHARED = Path(os.environ.get("MOREC_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
MICROLENS = ["data.source=microlens", f"data.path={SHARED / 'microlens-50k'}",
             "data.max_seq_len=23"]
POSTERS = ["data.source=movielens", f"data.path={SHARED / 'movielens-small-posters'}",
           "data.modality=image", "data.max_seq_len=13", "data.image_size=112"]

PROFILES = {
    "cpu": {
        "IDRec microlens": [*MICROLENS, "encoder.name=id", "backbone.embed_dim=64",
                            "train.batch_size=128", "train.lr=1e-3", "train.epochs=15"],
        "MiniLM-L6 top-1 microlens (3k users)": [
            *MICROLENS, "data.user_sample=3000", "encoder.name=text", "encoder.model=minilm-l6",
            "encoder.finetune_layers=1", "backbone.embed_dim=128", "train.batch_size=64",
            "train.lr=1e-3", "train.lr_encoder=1e-4", "train.epochs=4"],
        "MobileNetV2 top-2 posters": [
            *POSTERS, "encoder.name=vision", "encoder.model=mobilenetv2",
            "encoder.finetune_layers=2", "backbone.embed_dim=128", "train.batch_size=64",
            "train.lr=1e-3", "train.lr_encoder=1e-4", "train.epochs=4"],
    },
    "gpu": {
        "IDRec microlens": [*MICROLENS, "encoder.name=id", "backbone.embed_dim=128",
                            "train.batch_size=128", "train.lr=1e-3", "train.epochs=20"],
        "MiniLM-L6 E2E microlens": [
            *MICROLENS, "encoder.name=text", "encoder.model=minilm-l6", "backbone.embed_dim=512",
            "train.batch_size=64", "train.lr=1e-4", "train.lr_encoder=5e-5", "train.epochs=4"],
        "MobileNetV2 E2E posters": [
            *POSTERS, "encoder.name=vision", "encoder.model=mobilenetv2",
            "backbone.embed_dim=512", "train.batch_size=64", "train.lr=1e-4",
            "train.lr_encoder=1e-4", "train.epochs=10"],
    },
}


def run_one(name: str, overrides: list[str], extra: list[str]) -> dict[str, object]:
    spec = RunSpec().with_overrides([*overrides, *extra])
    started = time.perf_counter()
    test: dict[str, float] = {}
    seconds: float | None = None
    epochs = 0
    with tempfile.TemporaryDirectory() as run_dir:
        for event in iter_run(spec, RunContext(run_id=name, run_dir=Path(run_dir))):
            if isinstance(event, ev.EpochEnded):
                epochs += 1
                print(f"  {name}: epoch {event.epoch + 1} loss {event.loss:.4f} "
                      f"{event.seconds:.1f} s", flush=True)
            elif isinstance(event, ev.Evaluated) and event.split == "valid":
                print(f"  {name}: valid {event.metrics}", flush=True)
            elif isinstance(event, ev.Evaluated) and event.split == "test":
                test = event.metrics
            elif isinstance(event, ev.CostMeasured) and event.seconds_per_epoch is not None:
                seconds = event.seconds_per_epoch
            elif isinstance(event, ev.RunStarted):
                device = event.device
    return {"name": name, "device": device, "epochs": epochs, "seconds_per_epoch": seconds,
            "hr": test.get("hr@10"), "ndcg": test.get("ndcg@10"), "users": test.get("users"),
            "total": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("--only", help="run only the runs whose name contains this")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        help="extra section.key=value for every run")
    args = parser.parse_args()
    results = [run_one(name, overrides, args.overrides)
               for name, overrides in PROFILES[args.profile].items()
               if not args.only or args.only in name]
    print(f"\nprofile {args.profile}: test split, best validation epoch, full ranking, "
          "history masked")
    print(f"{'run':42} {'device':28} {'epochs':>6} {'s/epoch':>8} {'HR@10 %':>8} "
          f"{'NDCG@10 %':>9} {'users':>6} {'total s':>8}")
    for row in results:
        print(f"{row['name']:42} {row['device'][:28]:28} {row['epochs']:>6} "
              f"{row['seconds_per_epoch'] or 0:>8.1f} {100 * (row['hr'] or 0):>8.2f} "
              f"{100 * (row['ndcg'] or 0):>9.2f} {row['users'] or 0:>6} {row['total']:>8.0f}")


if __name__ == "__main__":
    main()
