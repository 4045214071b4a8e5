"""The paper's four questions on the real data beside the checkout (../shared/data, or
$MOREC_SHARED_DATA), under the paper preset (the paper code's SASRec block, BCE, HR@10 selection,
patience 7, weight decay searched) and under a softmax loss: `morec report --group reproduction`
(or `reproduction_cpu`) turns the store into reports/reproduction.md.

Three groups of one design:
- reproduction: every user, the paper's grids, every arm, end-to-end ones included (a GPU's
  work: MiniLM-L6 and MobileNetV2 end to end, top-2 layers, trained from scratch).
- reproduction_cpu: what 2 CPU cores run in about an hour: microlens-50k sampled to 3,000 users
  (data.user_sample, seed 0; the posters' 610 users whole), d 128 for every arm, no search (the
  paper code's lr 1e-3 and weight decay 0.1), at most 15 epochs, 3 seeds per arm; every arm
  that runs a network over item content at every step is left to reproduction_gpu. The warm-20
  view takes every user (on 3,000 users only 8 items have 20 interactions), 10 epochs.
- reproduction_gpu: those end-to-end arms on the very data views and settings of
  reproduction_cpu (so their rows meet the CPU rows' IDRec in one comparison): a GPU's job,
  `bash reports/gpu_reproduction.sh`, its store merged back with `morec store merge`.

Softmax loss: the full softmax (every item a candidate) where the item tower allows it (IDs,
two-stage features), the in-batch softmax for end-to-end arms, where a full softmax would encode
the whole catalogue at every step; the report says which ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from morec_core.presets import find_preset
from morec_core.studies import Arm, Study

SHARED = Path(os.environ.get("MOREC_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
PAPER = find_preset("paper").overrides
MICROLENS = ("data.source=microlens", f"data.path={SHARED / 'microlens-50k'}",
             "data.modality=text", "data.max_seq_len=23")
POSTERS = ("data.source=movielens", f"data.path={SHARED / 'movielens-small-posters'}",
           "data.modality=image", "data.max_seq_len=13", "data.image_size=112")
LOSSES = {"bce": ("train.loss=bce",), "softmax": ("train.loss=full_softmax",)}
"""Study name suffix -> loss settings; end-to-end arms swap the full for the in-batch softmax."""

CPU_USERS = 3_000
CPU = ("train.epochs=15", f"data.user_sample={CPU_USERS}", "data.sample_seed=0",
       "backbone.embed_dim=128", "train.weight_decay=0.1")
CPU_GRID: dict = {}
"""No search on the CPU: each arm at the paper code's setting (lr 1e-3 for what trains from
scratch, weight decay 0.1), on 3 seeds."""
FULL = ("train.epochs=100",)
FULL_ID_GRID = {"train.lr": (1e-3, 5e-4, 1e-4, 5e-5), "backbone.embed_dim": (64, 128, 256, 512),
                "train.weight_decay": (0.1, 0.01, 0.0)}
FULL_MOREC_GRID = {"train.lr_encoder": (1e-4, 5e-5, 1e-5), "train.weight_decay": (0.1, 0.01, 0.0)}
FULL_TS_GRID = {"train.lr": (1e-3, 5e-4, 1e-4), "train.weight_decay": (0.1, 0.01, 0.0)}


def idrec(backbone: str, grid: dict) -> Arm:
    batch = 128 if backbone == "sasrec" else 1024
    return Arm(name="IDRec", grid=grid, overrides=(
        "encoder.name=id", f"backbone.name={backbone}", f"train.batch_size={batch}",
        "train.lr=1e-3"))


def two_stage(name: str, encoder: str, model: str, grid: dict, backbone: str = "sasrec",
              *extra: str) -> Arm:
    batch = 64 if backbone == "sasrec" else 512
    return Arm(name=name, grid=grid, overrides=(
        f"encoder.name={encoder}", f"encoder.model={model}", "encoder.mode=two_stage",
        f"backbone.name={backbone}", f"train.batch_size={batch}", "train.lr=1e-3", *extra))


def end_to_end(name: str, encoder: str, model: str, grid: dict, *extra: str) -> Arm:
    return Arm(name=name, grid=grid, overrides=(
        f"encoder.name={encoder}", f"encoder.model={model}", "encoder.mode=e2e",
        "train.batch_size=64", "train.lr=1e-4", *extra))


@dataclass(frozen=True)
class Grids:
    idrec: dict
    two_stage: dict
    end_to_end: dict


FULL_GRIDS = Grids(FULL_ID_GRID, FULL_TS_GRID, FULL_MOREC_GRID)
CPU_GRIDS = Grids(CPU_GRID, CPU_GRID, CPU_GRID)


def text_arms(grids: Grids) -> tuple[list[Arm], list[Arm]]:
    """SASRec on microlens-50k, (cheap arms, end-to-end arms): Q(i) IDRec vs E2E, Q(ii)
    encoders and pretraining, Q(iii) TS / TS-DNN / top-2, Q(iv) fusion (cold and new items are
    recorded by every run)."""
    ts = grids.two_stage
    cheap = [idrec("sasrec", grids.idrec),
             two_stage("MiniLM-L6 TS", "text", "minilm-l6", ts),
             two_stage("MiniLM-L6 TS-DNN 2", "text", "minilm-l6", ts, "sasrec",
                       "encoder.mlp_layers=2"),
             two_stage("MiniLM-L6 TS, random weights", "text", "minilm-l6", ts, "sasrec",
                       "encoder.pretrained=false"),
             two_stage("ID+TS add", "text", "minilm-l6", ts, "sasrec", "encoder.fusion=add"),
             two_stage("ID+TS concat", "text", "minilm-l6", ts, "sasrec",
                       "encoder.fusion=concat"),
             end_to_end("GloVe", "glove", "glove-6b-50d", ts)]
    e2e = grids.end_to_end
    costly = [end_to_end("MiniLM-L6 E2E", "text", "minilm-l6", e2e),
              end_to_end("MiniLM-L6 top-2", "text", "minilm-l6", e2e,
                         "encoder.finetune_layers=2"),
              end_to_end("MiniLM-L6 E2E from scratch", "text", "minilm-l6", e2e,
                         "encoder.pretrained=false"),
              end_to_end("ID+E2E add", "text", "minilm-l6", e2e, "encoder.fusion=add")]
    return cheap, costly


def dssm_arms(grids: Grids) -> tuple[list[Arm], list[Arm]]:
    return ([idrec("dssm", grids.idrec),
             two_stage("MiniLM-L6 TS", "text", "minilm-l6", grids.two_stage, "dssm")],
            [end_to_end("MiniLM-L6 E2E", "text", "minilm-l6", grids.end_to_end,
                        "backbone.name=dssm", "train.batch_size=512")])


def warm_arms(grids: Grids) -> tuple[list[Arm], list[Arm]]:
    return ([idrec("sasrec", grids.idrec),
             two_stage("MiniLM-L6 TS", "text", "minilm-l6", grids.two_stage)],
            [end_to_end("MiniLM-L6 E2E", "text", "minilm-l6", grids.end_to_end)])


def image_arms(grids: Grids) -> tuple[list[Arm], list[Arm]]:
    return ([idrec("sasrec", grids.idrec),
             two_stage("MobileNetV2 TS", "vision", "mobilenetv2", grids.two_stage)],
            [end_to_end("MobileNetV2 E2E", "vision", "mobilenetv2", grids.end_to_end)])


def _in_batch(idrec_arm: Arm) -> Arm:
    return Arm(name="IDRec, in-batch softmax", grid=idrec_arm.grid,
               overrides=(*idrec_arm.overrides, "train.loss=softmax"))


def _softmax_for(arms: tuple[Arm, ...], loss: str) -> tuple[Arm, ...]:
    """The softmax study's arms: end-to-end ones take the in-batch softmax."""
    if loss != "softmax":
        return arms
    return tuple(Arm(name=arm.name, grid=arm.grid, overrides=(*arm.overrides,
                                                              "train.loss=softmax"))
                 if "encoder.mode=e2e" in arm.overrides else arm for arm in arms)


GROUPS = {
    # group: (study prefix, sizing, grids, which arms: cheap, costly or both)
    "reproduction": ("", FULL, FULL_GRIDS, (True, True)),
    "reproduction_cpu": ("cpu_", CPU, CPU_GRIDS, (True, False)),
    "reproduction_gpu": ("gpu_", CPU, CPU_GRIDS, (False, True)),
}


def build() -> list[Study]:
    studies = []
    for group, (prefix, size, grids, (cheap, costly)) in GROUPS.items():
        # The posters dataset is small (610 users): every user, on the CPU as well.
        posters_size = tuple(setting for setting in size if not setting.startswith("data.user"))
        designs = {
            "microlens_sasrec": (MICROLENS, size, text_arms, "SASRec, microlens-50k text"),
            "microlens_dssm": (MICROLENS, size, dssm_arms, "DSSM, microlens-50k text"),
            "microlens_warm20": (MICROLENS, (*size, "data.warm_min_item_interactions=20"),
                                 warm_arms, "SASRec, microlens-50k warm-20"),
            "posters_sasrec": (POSTERS, posters_size, image_arms,
                               "SASRec, movielens-small posters"),
        }
        if size is CPU:
            # Warm-20 counts interactions in the data as sampled: 3,000 users leave 8 items
            # with 20 of them (morec refuses HR@10 over 8 items). So every user, 10 epochs, for
            # the CPU's IDRec and TS; the end-to-end arm is the full group's.
            if cheap:
                every_user = tuple(setting for setting in posters_size
                                   if not setting.startswith("train.epochs"))
                designs["microlens_warm20_all"] = (
                    MICROLENS, (*every_user, "train.epochs=10",
                                "data.warm_min_item_interactions=20"),
                    warm_arms, "SASRec, microlens-50k warm-20, every user")
            del designs["microlens_warm20"]
        for name, (data, sizing, arms_of, what) in designs.items():
            cheap_arms, costly_arms = arms_of(grids)
            arms = (*(cheap_arms if cheap else ()), *(costly_arms if costly else ()))
            for loss, loss_settings in LOSSES.items():
                chosen = _softmax_for(arms, loss)
                if loss == "softmax" and cheap and any(
                        "encoder.mode=e2e" in arm.overrides for arm in (*cheap_arms, *costly_arms)):
                    # The end-to-end arms train on the in-batch softmax: their verdict needs an
                    # IDRec arm on the same loss (compare pairs arms of one loss only).
                    chosen = (*chosen, _in_batch(cheap_arms[0]))
                studies.append(Study(
                    name=f"{prefix}{name}_{loss}", group=group, seeds=3,
                    overrides=(*data, *PAPER, *sizing, *loss_settings),
                    arms=chosen, description=f"{what}, {loss} ({group})"))
    return studies


STUDIES = build()
