"""E2E MoRec training step: morec's against the paper code's naive step, same batch, same weights.

    .venv/bin/python benchmarks/bench_e2e_step.py [--batch-size 8] [--steps 5] [--model minilm-l6]

The naive step does what the paper's code does (westlake-repl/IDvs.MoRec, bce_text/main-end2end):
every user's L + 1 positive positions and L + 1 negative positions, padding included, go through
the text encoder as separate items, each title padded to 30 tokens, in one batch of 2 B (L + 1)
titles. morec's step (Recommender.loss) encodes each distinct item of the batch once, never the
padding item, with titles cut to the batch's longest. Both then run the same SASRec and BCE loss.

Printed: the loss and gradient of both steps on one batch with dropout off (they must agree to
float rounding), the titles and tokens each step encodes, and samples (user sequences) per second
of a full training step (forward, backward, AdamW) in training mode, steps interleaved so that
both see the same machine load. Target: morec >= 3x the naive step's samples per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAPER_TITLE_TOKENS = 30


def naive_loss(model, batch) -> torch.Tensor:
    """The paper's step: encode all 2 B (L + 1) positions, then SASRec and BCE on the real ones."""
    features = model.item_encoder.features  # TextFeatures
    head = model.item_encoder
    # The paper's code pads every sequence to the whole window; morec's batches stop at their
    # longest sequence, so pad them back (on the left, where padding goes).
    pad = (model.backbone.max_length - batch.inputs.shape[1], 0)
    inputs, targets = F.pad(batch.inputs, pad), F.pad(batch.targets, pad)  # (B, L) each
    positives = torch.cat([inputs, targets[:, -1:]], dim=1)  # (B, L + 1): the whole sequence
    negatives = F.pad(batch.negatives, (pad[0], 1))  # (B, L + 1); the last column is unused
    items = torch.stack([positives, negatives], dim=-1).flatten()  # (2 B (L + 1),)

    lengths = features.token_lengths[items]
    mask = torch.arange(PAPER_TITLE_TOKENS, device=lengths.device) < lengths[:, None]  # (N, 30)
    input_ids = features.token_ids[items, :PAPER_TITLE_TOKENS].long().masked_fill(
        ~mask, features.pad_id)
    hidden = features.model(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state
    cls = hidden[:, 0]  # (N, H)
    vectors = head.dense(head.dimension_transform(cls))  # (N, d)
    vectors = model.backbone.item_tower(vectors).view(*positives.shape, 2, -1)  # (B, L+1, 2, d)

    states = model.backbone.encode(vectors[:, :-1, 0], inputs > 0)  # (B, L, d)
    real = targets > 0
    positive = (states * vectors[:, 1:, 0]).sum(-1)[real]
    negative = (states * vectors[:, :-1, 1]).sum(-1)[real]
    return (F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive))
            + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative)))


def gradients(model, loss: torch.Tensor) -> torch.Tensor:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                      for p in model.parameters() if p.requires_grad])


def encoded_work(model, batch) -> tuple[tuple[int, int], tuple[int, int]]:
    """(titles, tokens incl. padding) that morec's and the naive step put through the encoder."""
    features = model.item_encoder.features
    distinct = torch.unique(batch.item_ids())
    distinct = distinct[distinct > 0]
    ours = (len(distinct), len(distinct) * int(features.token_lengths[distinct].max()))
    naive_titles = 2 * batch.inputs.shape[0] * (model.backbone.max_length + 1)
    return ours, (naive_titles, naive_titles * PAPER_TITLE_TOKENS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--model", default="minilm-l6", help="packaged text model (minilm-l6)")
    parser.add_argument("--batch-size", type=int, default=8, help="users per step")
    parser.add_argument("--steps", type=int, default=5, help="timed steps of each kind")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    from morec_core.config import RunSpec
    from morec_core.run.build import build_run

    spec = RunSpec().with_overrides([
        "data.source=microlens", f"data.path={arguments.shared / 'microlens-50k'}",
        "encoder.name=text", f"encoder.model={arguments.model}", "train.device=cpu",
        "train.precision=fp32", f"train.batch_size={arguments.batch_size}",
        f"train.seed={arguments.seed}"])
    torch.manual_seed(arguments.seed)
    built = build_run(spec, torch.device("cpu"))
    model, optimizer = built.model, built.optimizer
    batches = iter(built.train_batches(np.random.default_rng(arguments.seed)))
    window = built.dataset.lengths.max() - 3
    print(f"microlens-50k, {arguments.model}, batch {arguments.batch_size} users, window "
          f"{min(window, 20)}, {arguments.threads} threads, torch {torch.__version__}")

    # 1. Same loss and gradient on the same batch and weights, dropout off.
    batch = next(batches)
    model.eval()
    ours_loss = model.loss(batch)
    ours_grad = gradients(model, ours_loss)
    naive = naive_loss(model, batch)
    naive_grad = gradients(model, naive)
    loss_gap = abs(ours_loss.item() - naive.item())
    grad_gap = ((ours_grad - naive_grad).norm() / naive_grad.norm()).item()
    print(f"loss on one batch: morec {ours_loss.item():.7f}, naive {naive.item():.7f}, "
          f"|difference| {loss_gap:.1e} (target <= 1e-5)")
    print(f"gradient: relative difference {grad_gap:.1e} over "
          f"{ours_grad.numel():,} trainable parameters")

    # 2. Samples per second of whole training steps, interleaved.
    model.train()

    def step(loss_of, batch) -> float:
        started = time.perf_counter()
        loss = loss_of(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - started

    def naive_of(batch):
        return naive_loss(model, batch)

    step(model.loss, next(batches))  # warm-up of both paths
    step(naive_of, next(batches))
    seconds = {"morec": [], "naive": []}
    work = {"morec": [], "naive": []}
    for _ in range(arguments.steps):
        for name, loss_of in (("morec", model.loss), ("naive", naive_of)):
            batch = next(batches)  # a new batch each step; the two sides alternate
            seconds[name].append(step(loss_of, batch))
            ours, theirs = encoded_work(model, batch)
            work[name].append(ours if name == "morec" else theirs)
    b = arguments.batch_size
    rate = {name: b / statistics.median(values) for name, values in seconds.items()}
    mean_titles = {name: np.mean([t for t, _ in done]) for name, done in work.items()}
    mean_tokens = {name: np.mean([k for _, k in done]) for name, done in work.items()}
    print(f"\n{'':<34}{'naive':>10}{'morec':>10}{'ratio':>8}")
    print(f"{'titles encoded per step':<34}{mean_titles['naive']:>10.0f}"
          f"{mean_titles['morec']:>10.0f}{mean_titles['naive'] / mean_titles['morec']:>8.2f}")
    print(f"{'token positions per step':<34}{mean_tokens['naive']:>10.0f}"
          f"{mean_tokens['morec']:>10.0f}{mean_tokens['naive'] / mean_tokens['morec']:>8.2f}")
    print(f"{'median seconds per step':<34}{statistics.median(seconds['naive']):>10.2f}"
          f"{statistics.median(seconds['morec']):>10.2f}")
    print(f"{'samples per second':<34}{rate['naive']:>10.2f}{rate['morec']:>10.2f}"
          f"{rate['morec'] / rate['naive']:>8.2f}  (target: ratio >= 3)")
    return 0 if loss_gap <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
