"""Assemble one run from its spec: prepared data, content inputs, item encoder, backbone, model,
optimizer with named parameter groups, batches and evaluation. The trainer sees only `BuiltRun`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from morec_core import paths
from morec_core.backbones import build_backbone
from morec_core.config import ConfigError, RunSpec
from morec_core.data.batches import (
    TrainBatch,
    TrainingData,
    input_length,
    train_batches,
    training_data,
)
from morec_core.data.dataset import PreparedDataset
from morec_core.data.fingerprint import DataFingerprint, of_prepared
from morec_core.encoder_catalog import content_of
from morec_core.encoders import build_item_encoder
from morec_core.encoders.base import (
    EncoderInputs,
    SupportsCompileNetwork,
    SupportsPrecomputeFrozen,
)
from morec_core.run.evaluate import compute_item_table, evaluate_users
from morec_core.run.memory_fit import check_step_fits
from morec_core.run.model import Recommender, normal_init_
from morec_core.run.user_results import UserResults


@dataclass
class _Batches:
    """A sized iterable of one epoch's batches."""

    make: Callable[[], Iterator[TrainBatch]]
    count: int

    def __iter__(self) -> Iterator[TrainBatch]:
        return iter(self.make())

    def __len__(self) -> int:
        return self.count

    def shard(self, rank: int, world_size: int) -> _Batches:
        """Every world_size-th batch from `rank`; each rank gets the same number of steps
        (DDP all-reduces every step), so up to world_size - 1 trailing batches are dropped."""
        if world_size == 1:
            return self
        steps = self.count // world_size
        return _Batches(make=lambda: itertools.islice(self.make(), rank, steps * world_size,
                                                      world_size), count=steps)


@dataclass
class BuiltRun:
    spec: RunSpec
    dataset: PreparedDataset
    model: Recommender
    optimizer: torch.optim.Optimizer
    device: torch.device
    subsets: dict[str, np.ndarray]
    """Extra test splits: name -> user indices (test_cold, test_new)."""
    fingerprint: DataFingerprint
    """The data as trained on (recorded with the run: morec_core/data/fingerprint.py)."""
    _training: TrainingData

    @property
    def protocol(self) -> str:
        return protocol_of(self.spec, self.dataset.num_items)

    def train_batches(self, rng: np.random.Generator) -> _Batches:
        size = self.spec.train.batch_size
        rows = (len(self._training.sequence_users) if self.model.kind == "sequence"
                else len(self._training.pair_users))
        return _Batches(make=lambda: train_batches(self._training, self.model.kind,
                                                   batch_size=size, rng=rng),
                        count=-(-rows // size))

    def evaluate(self, split: str, item_table: torch.Tensor | None = None) -> UserResults:
        """Per-user standing of `split`'s targets (metrics: `.metrics(spec.eval.ties)`);
        item_table: from `item_table()` on the current weights, to share one between splits
        (else computed here)."""
        subset = self.subsets.get(split)
        return evaluate_users(self.model, self.dataset,
                              "test" if split in self.subsets else split,
                              k=self.spec.eval.k, mask_history=self.spec.eval.mask_history,
                              batch_size=self.spec.eval.batch_size, device=self.device,
                              user_subset=subset, item_table=item_table)

    def item_table(self) -> torch.Tensor:
        """(I + 1, d) every item's vector on the current weights (eval mode, no grad)."""
        return compute_item_table(self.model)

    def test_splits(self) -> Sequence[str]:
        return ["test", *self.subsets]

    def flops_per_sample(self) -> float | None:
        """Forward FLOPs of the loss on one training sample (the paper's batch size 1)."""
        from morec_core.run.cost import flops_of

        batch = next(iter(train_batches(self._training, self.model.kind, batch_size=1,
                                        rng=np.random.default_rng(0))), None)
        if batch is None:
            return None
        batch = batch.to(self.device)
        # In eval mode: dropout would draw from the random streams the training uses.
        was_training = self.model.training
        self.model.eval()
        try:
            return flops_of(lambda: self.model.loss(batch))
        finally:
            self.model.train(was_training)


def protocol_of(spec: RunSpec, num_items: int) -> str:
    """How a run's numbers are computed, recorded with every result: runs whose protocols
    differ are not compared (morec compare)."""
    masking = "history masked" if spec.eval.mask_history else "history not masked"
    return (f"full ranking over all {num_items} items, {masking}, leave-one-out, "
            f"ties {spec.eval.ties}")


def build_run(spec: RunSpec, device: torch.device) -> BuiltRun:
    from morec_core.data.prepare import check_content, ensure_prepared, load_prepared

    if content_of(spec.encoder.name) != "none":
        # A modality arm on items most of which have no text (or only codes) is not MoRec:
        # refused below data.min_text_coverage, before any cache or model is built.
        check_content(spec.data)
    folder = ensure_prepared(spec.data)
    dataset = load_prepared(folder)
    fingerprint = of_prepared(folder, dataset, spec.data.modality)
    # Before any content cache is built: the catalogue size is known only now.
    if spec.eval.k > dataset.num_items:
        raise ConfigError(f"eval.k: {spec.eval.k} is more than the {dataset.num_items} items of "
                          f"{dataset.name}; HR@k and NDCG@k rank the whole catalogue")
    cache_dir = paths.content_cache_dir(dataset.name)
    inputs = encoder_inputs(spec, dataset, cache_dir)
    item_encoder = build_item_encoder(spec.encoder, inputs, spec.backbone.embed_dim,
                                      dropout=spec.backbone.dropout, device=device)
    window = input_length(dataset, cap=spec.data.max_seq_len)
    backbone = build_backbone(spec.backbone, num_users=dataset.num_users, max_length=window)
    # Before the model is placed and a step allocates: a setting no machine holds is one line,
    # not an out-of-memory kill.
    check_step_fits(spec, num_items=dataset.num_items, device=device,
                    positions_per_example=window if backbone.kind == "sequence" else 1)
    model = Recommender(item_encoder, backbone, spec.train.loss, num_items=dataset.num_items,
                        sampled_negatives=spec.train.sampled_negatives)
    if spec.backbone.init == "normal":
        normal_init_(model)
    model = model.to(device)
    if spec.encoder.mode == "e2e" and spec.encoder.finetune_layers > 0:
        # Top-k fine-tuning: the frozen lower layers' outputs never change, so compute them once
        # for every item and let each training step run only the top k layers (issue 7).
        for module in model.modules():
            if isinstance(module, SupportsPrecomputeFrozen):
                module.precompute_frozen(spec.eval.batch_size)
    if spec.train.compile:
        # After .to(device): the compiled code is specialised to where the network lives.
        for module in model.modules():
            if isinstance(module, SupportsCompileNetwork):
                module.compile_network()
    groups = model.parameter_groups()
    # Fused AdamW on the CPU: one pass over each tensor instead of several foreach passes,
    # 2.9x faster on an ID table of 17K x 64 (a tenth of an IDRec step there). On CUDA torch's
    # default (foreach): fused was no faster on an H200 (0.94x the E2E step's samples/s;
    # benchmarks/README.md, gpu_bench.py's optimizer comparison).
    optimizer = torch.optim.AdamW([
        {"name": "encoder", "params": groups["encoder"], "lr": spec.train.lr_encoder,
         "weight_decay": spec.train.weight_decay_encoder},
        {"name": "rest", "params": groups["rest"], "lr": spec.train.lr,
         "weight_decay": spec.train.weight_decay},
    ], fused=device.type == "cpu" or None)
    subsets = evaluation_subsets(dataset)
    return BuiltRun(spec=spec, dataset=dataset, model=model, optimizer=optimizer, device=device,
                    subsets=subsets, fingerprint=fingerprint,
                    _training=training_data(dataset, window))


def encoder_inputs(spec: RunSpec, dataset: PreparedDataset, cache_dir: Path) -> EncoderInputs:
    """Content the item encoder reads, from the dataset's content caches (built once)."""
    content = content_of(spec.encoder.name)
    feature_dir = cache_dir / "features"
    if content == "tokens":
        from morec_core.data.tokens import token_cache
        from morec_core.encoders.text import load_tokenizer

        tokens = token_cache(dataset.content.titles, load_tokenizer(spec.encoder.model),
                             max_tokens=spec.data.max_title_tokens, cache_dir=cache_dir)
        return EncoderInputs(num_items=dataset.num_items, token_ids=tokens.ids,
                             token_lengths=tokens.lengths, feature_cache_dir=feature_dir)
    if content == "images":
        from morec_core.data.images import image_cache

        images = image_cache(dataset.content.image_paths, size=spec.data.image_size,
                             cache_dir=cache_dir)
        return EncoderInputs(num_items=dataset.num_items, images=images,
                             feature_cache_dir=feature_dir)
    if content == "titles":
        return EncoderInputs(num_items=dataset.num_items, titles=dataset.content.titles,
                             feature_cache_dir=feature_dir)
    return EncoderInputs(num_items=dataset.num_items)


def evaluation_subsets(dataset: PreparedDataset) -> dict[str, np.ndarray]:
    """Users whose test target is a cold item (< 10 training interactions) or a new item
    (paper Table 9); only the non-empty subsets."""
    from morec_core.data.views import cold_target_users, new_target_users

    subsets = {"test_cold": cold_target_users(dataset, split="test"),
               "test_new": new_target_users(dataset, split="test")}
    return {name: users for name, users in subsets.items() if len(users) > 0}
