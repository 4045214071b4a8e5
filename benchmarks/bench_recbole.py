"""IDRec SASRec: morec against RecBole 1.2.1's SASRec on the same prepared data and split.

    .venv/bin/python benchmarks/bench_recbole.py [--users N] [--loss ce|bce] [--threads N]

Both sides read morec's prepared microlens-50k (5-core, latest 23), exported to RecBole atomic
files, so the leave-one-out split is the same: the last item of each user is the test target,
the second last the validation target (RecBole: split LS valid_and_test, order TO, full ranking).
RecBole runs in its own virtual environment (created here on first use, about 3 minutes: RecBole
1.2.1 needs numpy < 2 and pandas < 2.3), in a subprocess, built from its modules directly rather
than `recbole.quick_start`, which imports Ray.

The same model on both sides: morec runs with RecBole's SASRec block (post-LN after a LayerNorm
on the input sum, backbone.layer_norm=post) and initialisation (N(0, 0.02), backbone.init=normal);
--morec-own-architecture keeps morec's defaults (pre-LN, xavier) instead.
Same hyper-parameters on both sides: d = 64, 2 blocks, 2 heads, feed-forward 4d, dropout 0.1,
Adam(W) lr 1e-3 without weight decay, window 20 (max_seq_len 23 - 3), eval batch 1024, and the
same number of training pairs per step. RecBole trains on prefixes, one (history, target) pair
per row: a batch of 128 rows is 128 pairs. morec trains a user's whole sequence at once, every
position a pair: 128 sequences would be about 4 x 128 pairs and a quarter of the updates per
epoch. So morec's batch is 128 / (mean pairs per sequence) sequences, 32 on microlens-50k
(--morec-batch-size to set it; 128 is the "same rows" reading).
Losses (--loss):
  bce  morec's default, BCE on one uniform negative per positive at every position; RecBole's
       nearest, BPR on one uniform negative per training prefix (its SASRec has no BCE).
  ce   (the default) cross-entropy over all items on both sides: morec's
       train.loss=full_softmax, RecBole's CE (its default). --morec-loss picks another for morec.
Evaluation ranks every item for every user, without history masking on both sides: RecBole
masks no history for sequential models, so morec runs with eval.mask_history=false here.

Printed: seconds per epoch, seconds per validation, the validation NDCG@10 curve with cumulative
wall-clock time (training + validation, data preparation excluded), the time each side needs to
reach RecBole's best validation NDCG@10 and its ratio, and test HR@10 / NDCG@10 at each side's
best epoch. Both sides stop after `--patience` validations without gain or `--epochs` epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "data"
DEFAULT_VENV = ROOT / "benchmarks" / ".recbole-venv"
RECBOLE_PINS = ["recbole==1.2.1", "numpy<2", "pandas<2.3"]
RESULT_PREFIX = "RESULT "
MOREC_LOSS = {"bce": "bce", "ce": "full_softmax"}
"""--loss -> morec's train.loss: the same objective as RecBole's loss_type (BPR's nearest for bce)."""
RECBOLE_ARCHITECTURE = ["backbone.layer_norm=post", "backbone.init=normal"]
"""morec's settings for RecBole's SASRec: post-LN blocks after an input LayerNorm, N(0, 0.02)."""


# --- the RecBole side: runs inside the RecBole venv, imports nothing of morec -----------------

def recbole_worker(settings: dict) -> dict:
    """Train and evaluate RecBole's SASRec as its Trainer.fit does, timing each phase."""
    import copy
    import warnings

    import numpy as np
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender.sasrec import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    # Importing recbole.model.sequential_recommender runs sine.py, which switches on autograd
    # anomaly detection for the whole process (about 2x slower steps here). It is a debugging
    # aid, so it is switched off again: the baseline is RecBole at its fastest.
    torch.autograd.set_detect_anomaly(False)
    warnings.filterwarnings("ignore", category=FutureWarning)  # pandas and amp deprecations
    sys.argv = sys.argv[:1]  # Config reads --key=value options from the command line
    torch.set_num_threads(settings["threads"])
    ce = settings["loss"] == "ce"
    config = Config(model="SASRec", dataset=settings["dataset"], config_dict={
        "data_path": settings["data_path"],
        "checkpoint_dir": settings["checkpoint_dir"],
        "use_gpu": False, "worker": 0, "seed": settings["seed"], "reproducibility": True,
        "show_progress": False, "state": "WARNING",
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        # morec's prepared data is already filtered: RecBole must not filter again.
        "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)",
        "MAX_ITEM_LIST_LENGTH": settings["window"],
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user",
                      "mode": "full"},
        "metrics": ["Hit", "NDCG"], "topk": [10], "valid_metric": "NDCG@10",
        "metric_decimal_place": 6,
        "loss_type": "CE" if ce else "BPR",
        "train_neg_sample_args": None if ce else {"distribution": "uniform", "sample_num": 1},
        "hidden_size": settings["dim"], "inner_size": 4 * settings["dim"],
        "n_layers": settings["blocks"], "n_heads": settings["heads"],
        "hidden_dropout_prob": settings["dropout"], "attn_dropout_prob": settings["dropout"],
        "learning_rate": settings["lr"], "weight_decay": 0.0,
        "train_batch_size": settings["batch_size"], "eval_batch_size": settings["eval_batch_size"],
        "epochs": settings["epochs"],
    })
    init_seed(config["seed"], config["reproducibility"])
    started = time.perf_counter()
    dataset = create_dataset(config)
    counts = {"users": int(dataset.user_num - 1), "items": int(dataset.item_num - 1),
              "interactions": int(dataset.inter_num)}
    train_data, valid_data, test_data = data_preparation(config, dataset)

    def targets(data) -> dict:
        """The split RecBole built, in morec's ids (exported as the tokens): user -> target."""
        features = data.dataset.inter_feat
        users = dataset.id2token("user_id", features["user_id"].numpy()).astype(np.int64)
        items = dataset.id2token("item_id", features["item_id"].numpy()).astype(np.int64)
        order = np.argsort(users)
        return {"users": users[order].tolist(), "items": items[order].tolist(),
                "history": features["item_length"].numpy()[order].tolist()}

    model = SASRec(config, train_data.dataset).to(config["device"])
    trainer = Trainer(config, model)
    setup_seconds = time.perf_counter() - started

    curve, best, best_state, stale, clock = [], -1.0, None, 0, 0.0
    for epoch in range(settings["epochs"]):
        began = time.perf_counter()
        loss = trainer._train_epoch(train_data, epoch, show_progress=False)
        train_seconds = time.perf_counter() - began
        began = time.perf_counter()
        metrics = trainer.evaluate(valid_data, load_best_model=False, show_progress=False)
        eval_seconds = time.perf_counter() - began
        clock += train_seconds + eval_seconds
        ndcg = float(metrics["ndcg@10"])
        curve.append({"epoch": epoch, "loss": float(loss if not isinstance(loss, tuple)
                                                    else sum(loss)),
                      "train_s": train_seconds, "eval_s": eval_seconds, "clock_s": clock,
                      "valid_ndcg": ndcg, "valid_hr": float(metrics["hit@10"])})
        print(f"  recbole epoch {epoch:2d}: train {train_seconds:6.1f} s, valid "
              f"{eval_seconds:5.1f} s, NDCG@10 {ndcg:.4f}", file=sys.stderr, flush=True)
        if ndcg > best:
            best, stale = ndcg, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= settings["patience"]:
                break
    model.load_state_dict(best_state)
    began = time.perf_counter()
    test = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    return {"setup_s": setup_seconds, "curve": curve, "test_eval_s": time.perf_counter() - began,
            "test_ndcg": float(test["ndcg@10"]), "test_hr": float(test["hit@10"]),
            **counts, "train_samples": len(train_data.dataset),
            "valid_split": targets(valid_data), "test_split": targets(test_data)}


# --- the morec side and the driver -----------------------------------------------------------

def ensure_venv(folder: Path) -> Path:
    """The RecBole venv's python, creating the venv first when it lacks recbole."""
    import torch

    python = folder / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import recbole"],
                                          capture_output=True).returncode == 0:
        return python
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    print(f"creating {folder} (recbole==1.2.1, numpy<2, pandas<2.3, this torch) ...", flush=True)
    subprocess.run([base, "-m", "venv", folder], check=True)
    (folder / ".gitignore").write_text("*\n")  # the venv ignores itself, as Python 3.13's does
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"  # the same torch as morec's
    subprocess.run([python, "-m", "pip", "install", "-q", *RECBOLE_PINS, torch_pin], check=True)
    return python


def export_atomic(dataset, folder: Path, name: str) -> None:
    """morec's prepared sequences -> RecBole's `name.inter` (user, item, timestamp).

    The timestamp is the interaction's index in the CSR arrays: increasing within each user, so
    RecBole's TO order keeps morec's chronological order and its LS split picks the same items.
    """
    import numpy as np

    (folder / name).mkdir(parents=True, exist_ok=True)
    users = np.repeat(np.arange(dataset.num_users), dataset.lengths)
    rows = np.column_stack([users, dataset.items, np.arange(dataset.num_interactions)])
    with open(folder / name / f"{name}.inter", "w") as file:
        file.write("user_id:token\titem_id:token\ttimestamp:float\n")
        np.savetxt(file, rows, fmt="%d", delimiter="\t")


def check_same_split(recbole: dict, dataset, window: int) -> None:
    """Refuse to compare unless RecBole holds out the same items, after the same history."""
    import numpy as np

    if (recbole["users"], recbole["items"], recbole["interactions"]) != (
            dataset.num_users, dataset.num_items, dataset.num_interactions):
        raise SystemExit("RecBole read different data than morec prepared")
    for split, held_out, targets in (("valid", 2, dataset.valid_targets()),
                                     ("test", 1, dataset.test_targets())):
        theirs = recbole[f"{split}_split"]
        history = np.minimum(dataset.lengths - held_out, window)
        if (theirs["users"] != list(range(dataset.num_users))
                or not np.array_equal(theirs["items"], targets)
                or not np.array_equal(theirs["history"], history)):
            raise SystemExit(f"RecBole's {split} split differs from morec's")
    print(f"  same split: all {dataset.num_users} valid and test targets and history lengths match")


def run_recbole(python: Path, settings: dict) -> dict:
    process = subprocess.run([python, __file__, "--worker", json.dumps(settings)],
                             stdout=subprocess.PIPE, text=True, cwd=settings["data_path"])
    if process.returncode != 0:
        raise SystemExit(f"the RecBole worker failed with exit code {process.returncode}")
    lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def run_morec(arguments: argparse.Namespace, run_dir: Path) -> dict:
    import torch

    from morec_core.config import RunSpec
    from morec_core.run import events as ev
    from morec_core.run.train import RunContext, iter_run

    torch.set_num_threads(arguments.threads)
    spec = RunSpec().with_overrides([
        "data.source=microlens", f"data.path={arguments.shared / 'microlens-50k'}",
        f"data.user_sample={arguments.users}", "data.max_seq_len=23",
        f"backbone.embed_dim={arguments.dim}", "backbone.num_blocks=2", "backbone.num_heads=2",
        f"backbone.dropout={arguments.dropout}",
        f"train.loss={arguments.morec_loss or MOREC_LOSS[arguments.loss]}",
        f"train.batch_size={arguments.morec_batch_size}", f"train.lr={arguments.lr}",
        f"train.epochs={arguments.epochs}", f"train.patience={arguments.patience}",
        f"train.seed={arguments.seed}", "train.device=cpu", "train.precision=fp32",
        "eval.mask_history=false", f"eval.batch_size={arguments.eval_batch_size}",
        *([] if arguments.morec_own_architecture else RECBOLE_ARCHITECTURE),
        *arguments.morec_set])
    curve, test, clock, phase_start, train_seconds = [], {}, 0.0, None, 0.0
    for event in iter_run(spec, RunContext(run_id="bench", run_dir=run_dir)):
        now = time.perf_counter()
        if isinstance(event, ev.CostMeasured) and phase_start is None:
            phase_start = now  # the build and the FLOP count are done; epoch 0 starts now
        elif isinstance(event, ev.EpochEnded):
            train_seconds = event.seconds
            clock += now - phase_start
            phase_start = now
            loss = event.loss
        elif isinstance(event, ev.Evaluated) and event.split == "valid":
            eval_seconds = now - phase_start
            clock += eval_seconds
            phase_start = now
            ndcg = event.metrics["ndcg@10"]
            curve.append({"epoch": event.epoch, "loss": loss, "train_s": train_seconds,
                          "eval_s": eval_seconds, "clock_s": clock, "valid_ndcg": ndcg,
                          "valid_hr": event.metrics["hr@10"]})
            print(f"  morec   epoch {event.epoch:2d}: train {train_seconds:6.1f} s, valid "
                  f"{eval_seconds:5.1f} s, NDCG@10 {ndcg:.4f}", flush=True)
        elif isinstance(event, ev.CheckpointSaved):
            clock += now - phase_start  # checkpoints are part of morec's epoch
            phase_start = now
        elif isinstance(event, ev.Evaluated) and event.split == "test":
            test = {"test_ndcg": event.metrics["ndcg@10"], "test_hr": event.metrics["hr@10"],
                    "test_eval_s": now - phase_start}
            phase_start = now
    return {"curve": curve, **test}


def time_to(curve: list[dict], target: float) -> tuple[float | None, int | None]:
    """Cumulative seconds (and epoch) of the first validation at or above target."""
    for point in curve:
        if point["valid_ndcg"] >= target:
            return point["clock_s"], point["epoch"]
    return None, None


def mean(values: list[float]) -> float:
    return sum(values) / max(len(values), 1)


def report(recbole: dict, morec: dict) -> None:
    rb_curve, mo_curve = recbole["curve"], morec["curve"]
    best = max(rb_curve, key=lambda point: point["valid_ndcg"])
    target = best["valid_ndcg"]
    rb_time, mo_time = best["clock_s"], time_to(mo_curve, target)[0]
    mo_epoch = time_to(mo_curve, target)[1]
    print("\nvalidation NDCG@10 by epoch (cumulative seconds of training + validation)")
    print(f"{'epoch':>5}  {'RecBole':>17}  {'morec':>17}")
    for epoch in range(max(len(rb_curve), len(mo_curve))):
        cells = []
        for curve in (rb_curve, mo_curve):
            point = curve[epoch] if epoch < len(curve) else None
            cells.append(f"{point['valid_ndcg']:.4f} @ {point['clock_s']:6.0f} s" if point
                         else "")
        print(f"{epoch:>5}  {cells[0]:>17}  {cells[1]:>17}")
    rows = [
        ("seconds per training epoch", mean([p["train_s"] for p in rb_curve]),
         mean([p["train_s"] for p in mo_curve])),
        ("seconds per validation (all users, all items)", mean([p["eval_s"] for p in rb_curve]),
         mean([p["eval_s"] for p in mo_curve])),
        ("best validation NDCG@10", target, max(p["valid_ndcg"] for p in mo_curve)),
        ("test HR@10 (best epoch)", recbole["test_hr"], morec["test_hr"]),
        ("test NDCG@10 (best epoch)", recbole["test_ndcg"], morec["test_ndcg"]),
    ]
    print(f"\n{'':<48}{'RecBole':>10}{'morec':>10}{'ratio':>8}")
    for label, theirs, ours in rows:
        print(f"{label:<48}{theirs:>10.4f}{ours:>10.4f}{ours / theirs:>8.2f}")
    print(f"\ntime to RecBole's best validation NDCG@10 ({target:.4f}):")
    print(f"  RecBole {rb_time:7.1f} s (epoch {best['epoch']})")
    if mo_time is None:
        print("  morec   not reached")
        print("  ratio   n/a (target: <= 0.50)")
    else:
        print(f"  morec   {mo_time:7.1f} s (epoch {mo_epoch})")
        print(f"  ratio   {mo_time / rb_time:.2f} (target: <= 0.50)")
    print(f"test NDCG@10 morec / RecBole: {morec['test_ndcg'] / recbole['test_ndcg']:.3f} "
          "(target: >= 1 within noise)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help="RecBole's virtual environment (created when missing)")
    parser.add_argument("--users", type=int, default=0,
                        help="seeded user subsample (data.user_sample); 0 = all 50,000")
    parser.add_argument("--loss", choices=("bce", "ce"), default="ce",
                        help="ce: cross-entropy over all items (RecBole's default); bce: one negative")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=128,
                        help="RecBole's batch: training prefixes, one (history, target) pair each")
    parser.add_argument("--morec-batch-size", type=int, default=0,
                        help="morec's batch in user sequences; 0 = as many pairs per step as "
                             "RecBole's batch (its --batch-size / mean pairs per sequence)")
    parser.add_argument("--morec-loss",
                        choices=("bce", "softmax", "full_softmax", "sampled_softmax"),
                        help="morec's train.loss instead of the one matching --loss")
    parser.add_argument("--morec-own-architecture", action="store_true",
                        help="morec's defaults (pre-LN, xavier) instead of RecBole's SASRec "
                             "(post-LN, N(0, 0.02)): " + " ".join(RECBOLE_ARCHITECTURE))
    parser.add_argument("--morec-set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="extra override of morec's run spec (repeatable)")
    parser.add_argument("--eval-batch-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads on both sides")
    parser.add_argument("--skip-recbole", type=Path, metavar="JSON",
                        help="reuse a RecBole result saved by an earlier run")
    arguments = parser.parse_args()
    if arguments.worker:
        print(RESULT_PREFIX + json.dumps(recbole_worker(json.loads(arguments.worker))))
        return 0

    import numpy as np

    from morec_core.config import DataConfig
    from morec_core.data.batches import input_length
    from morec_core.data.prepare import prepare

    data = DataConfig(source="microlens", path=str(arguments.shared / "microlens-50k"),
                      max_seq_len=23, user_sample=arguments.users)
    dataset = prepare(data)
    window = input_length(dataset, cap=data.max_seq_len)
    # (history, target) training pairs: all but the first and the two held-out items of a user.
    pairs = int(np.maximum(dataset.lengths - 3, 0).sum())
    sequences = int((dataset.lengths >= 4).sum())  # those with a training pair
    if not arguments.morec_batch_size:
        arguments.morec_batch_size = max(1, round(arguments.batch_size * sequences / pairs))
    print(f"microlens-50k: {dataset.num_users} users, {dataset.num_items} items, "
          f"{dataset.num_interactions} interactions, {pairs} training pairs; window {window}; "
          f"loss {arguments.loss}; {arguments.threads} threads")
    print(f"batches: RecBole {arguments.batch_size} prefixes (= pairs), morec "
          f"{arguments.morec_batch_size} sequences (about "
          f"{arguments.morec_batch_size * pairs / sequences:.0f} pairs)")
    scratch = Path(tempfile.mkdtemp(prefix="morec-recbole-"))
    if arguments.skip_recbole:
        recbole = json.loads(arguments.skip_recbole.read_text())
    else:
        python = ensure_venv(arguments.venv)
        export_atomic(dataset, scratch, "microlens")
        settings = {"data_path": str(scratch), "dataset": "microlens",
                    "checkpoint_dir": str(scratch / "saved"), "window": window,
                    "loss": arguments.loss, "dim": arguments.dim, "blocks": 2, "heads": 2,
                    "dropout": arguments.dropout, "lr": arguments.lr,
                    "batch_size": arguments.batch_size,
                    "eval_batch_size": arguments.eval_batch_size, "epochs": arguments.epochs,
                    "patience": arguments.patience, "seed": arguments.seed,
                    "threads": arguments.threads}
        print("RecBole SASRec:", flush=True)
        recbole = run_recbole(python, settings)
        (scratch / "recbole.json").write_text(json.dumps(recbole))
        print(f"  (saved to {scratch / 'recbole.json'}; setup {recbole['setup_s']:.1f} s, "
              f"{recbole['train_samples']} training prefixes, "
              f"{recbole['users']} users, {recbole['items']} items)")
    check_same_split(recbole, dataset, window)
    print("morec SASRec (IDRec):", flush=True)
    morec = run_morec(arguments, scratch / "run")
    report(recbole, morec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
