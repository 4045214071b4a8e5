"""The paper's four questions on the real data beside the checkout (../shared/data, or
$MOREC_SHARED_DATA), under the paper preset (the paper code's SASRec block, BCE, HR@10 selection,
patience 7, weight decay searched) and under a softmax loss: `morec report --group reproduction`
(or `reproduction_cpu`) turns the store into reports/reproduction.md.

Four groups of one design:
- reproduction: every user, the paper's grids, every arm, end-to-end ones included (a GPU's
  work: MiniLM-L6 and MobileNetV2 end to end, top-2 layers, trained from scratch).
- reproduction_cpu: what 2 CPU cores run in about half a day, on every one of microlens-50k's
  50,000 users (no sample): d 64, weight decay 0.1, at most 30 epochs under BCE and 12 under
  the full softmax (early stopping at the paper's patience 7 usually ends sooner), 3 seeds per
  arm. The learning rate is searched on 3 values for IDRec and for MiniLM-L6 two-stage (the
  cheap MoRec arm the others build on), so neither side of the main verdict is under-tuned;
  TS-DNN, the side network and ID+TS fusion run at the paper code's lr 1e-3 (their budget: one
  configuration). Every arm that runs a network over item content at every step is left to
  reproduction_gpu; the side network, which reads cached layer states, stays on the CPU. The
  collapse rule observes instead of stopping (train.stop_on_collapse=false), so its errors can
  be measured by replaying it on every recorded curve (benchmarks/collapse_replay.py). The
  posters' 610 users, warm-20 on every user (10 epochs) and DSSM (no search) as before.
- reproduction_cpu_sample: the first CPU design (microlens-50k sampled to 3,000 users, d 128,
  no search, at most 15 epochs), kept for the collapse-rule measurement: it is the design whose
  stopped runs raised the question, rerun here with the rule observing.
- reproduction_gpu: the end-to-end arms on the very data views and settings of
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

OBSERVE = ("train.stop_on_collapse=false",)
"""The CPU groups record whole curves: the collapse rule is replayed on them afterwards."""
SAMPLE_USERS = 3_000
SAMPLE = ("train.epochs=15", f"data.user_sample={SAMPLE_USERS}", "data.sample_seed=0",
          "backbone.embed_dim=128", "train.weight_decay=0.1", *OBSERVE)
CPU = ("backbone.embed_dim=64", "train.weight_decay=0.1", *OBSERVE)
CPU_EPOCHS = {"bce": ("train.epochs=30",), "softmax": ("train.epochs=12",)}
"""BCE learns slowly (one negative per position); the full softmax is 3x dearer an epoch and
reaches its best sooner (IDRec at lr 2e-3 on every user: 9.2% HR@10 by epoch 9, flat from
epoch 6)."""
CPU_GRID: dict = {}
"""No search: the paper code's setting (lr 1e-3 for what trains from scratch, weight decay 0.1),
on 3 seeds."""
CPU_LR_GRID = {"train.lr": (2e-3, 1e-3, 5e-4)}
"""The CPU's search, for IDRec and MiniLM-L6 TS on the main view: the paper code's 1e-3 and a
factor of 2 either side."""
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
SAMPLE_GRIDS = Grids(CPU_GRID, CPU_GRID, CPU_GRID)
CPU_GRIDS = Grids(CPU_GRID, CPU_GRID, CPU_GRID)
CPU_MAIN_GRIDS = Grids(CPU_LR_GRID, CPU_LR_GRID, CPU_GRID)


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


def cpu_text_arms(grids: Grids) -> tuple[list[Arm], list[Arm]]:
    """The full-data CPU design's main view: IDRec and MiniLM-L6 TS searched (grids.idrec,
    grids.two_stage), TS-DNN, the side network (IISAN-style, over cached layer states: cheap on
    a CPU) and ID+TS fusion at lr 1e-3; nothing end to end."""
    ts = grids.two_stage
    return ([idrec("sasrec", grids.idrec),
             two_stage("MiniLM-L6 TS", "text", "minilm-l6", ts),
             two_stage("MiniLM-L6 TS-DNN 2", "text", "minilm-l6", CPU_GRID, "sasrec",
                       "encoder.mlp_layers=2"),
             side_network("MiniLM-L6 side 64", CPU_GRID),
             two_stage("ID+TS add", "text", "minilm-l6", CPU_GRID, "sasrec",
                       "encoder.fusion=add")],
            [])


def side_network(name: str, grid: dict) -> Arm:
    """The side network trains from scratch (train.lr_encoder) beside a frozen encoder whose
    layer states are cached: an end-to-end arm by its loss (in-batch softmax), two-stage by
    its cost."""
    return Arm(name=name, grid=grid, overrides=(
        "encoder.name=text", "encoder.model=minilm-l6", "encoder.mode=e2e",
        "encoder.adapter=side", "encoder.adapter_rank=64", "train.batch_size=64",
        "train.lr=1e-3", "train.lr_encoder=1e-3"))


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
    "reproduction_cpu_sample": ("cpu3k_", SAMPLE, SAMPLE_GRIDS, (True, False)),
    "reproduction_gpu": ("gpu_", CPU, CPU_GRIDS, (False, True)),
}


def gpu_text_arms(grids: Grids) -> tuple[list[Arm], list[Arm]]:
    """The GPU's end-to-end arms on the CPU group's main view: MiniLM-L6 pretrained end to end,
    its top 2 layers, and LoRA (issue 23), each met by the CPU rows' IDRec and TS."""
    e2e = grids.end_to_end
    return ([], [end_to_end("MiniLM-L6 E2E", "text", "minilm-l6", e2e),
                 end_to_end("MiniLM-L6 top-2", "text", "minilm-l6", e2e,
                            "encoder.finetune_layers=2"),
                 end_to_end("MiniLM-L6 LoRA r8", "text", "minilm-l6", e2e,
                            "encoder.adapter=lora", "encoder.adapter_rank=8",
                            "encoder.lora_alpha=16", "train.lr_encoder=1e-3")])


@dataclass(frozen=True)
class Design:
    data: tuple[str, ...]
    sizing: tuple[str, ...]
    arms_of: object
    """Grids -> (cheap arms, end-to-end arms)."""
    grids: Grids
    what: str


def _designs(group: str) -> dict[str, Design]:
    """The data views of a group, each with its arms and grids."""
    if group == "reproduction":
        size, grids = FULL, FULL_GRIDS
        return {
            "microlens_sasrec": Design(MICROLENS, size, text_arms, grids,
                                       "SASRec, microlens-50k text"),
            "microlens_dssm": Design(MICROLENS, size, dssm_arms, grids, "DSSM, microlens-50k text"),
            "microlens_warm20": Design(MICROLENS, (*size, "data.warm_min_item_interactions=20"),
                                       warm_arms, grids, "SASRec, microlens-50k warm-20"),
            "posters_sasrec": Design(POSTERS, size, image_arms, grids,
                                     "SASRec, movielens-small posters"),
        }
    if group == "reproduction_cpu_sample":
        # The posters dataset is small (610 users): every user. Warm-20 counts interactions in
        # the data as sampled (3,000 users leave 8 items with 20 of them), so every user, 10
        # epochs.
        every_user = tuple(setting for setting in SAMPLE if not setting.startswith("data.user"))
        every_user_10 = (*(setting for setting in every_user
                           if not setting.startswith("train.epochs")), "train.epochs=10")
        return {
            "microlens_sasrec": Design(MICROLENS, SAMPLE, text_arms, SAMPLE_GRIDS,
                                       "SASRec, microlens-50k text, 3,000 users"),
            "microlens_dssm": Design(MICROLENS, SAMPLE, dssm_arms, SAMPLE_GRIDS,
                                     "DSSM, microlens-50k text, 3,000 users"),
            "microlens_warm20_all": Design(
                MICROLENS, (*every_user_10, "data.warm_min_item_interactions=20"), warm_arms,
                SAMPLE_GRIDS, "SASRec, microlens-50k warm-20, every user"),
            "posters_sasrec": Design(POSTERS, every_user, image_arms, SAMPLE_GRIDS,
                                     "SASRec, movielens-small posters"),
        }
    main = "SASRec, microlens-50k text, every user"
    if group == "reproduction_gpu":
        return {"microlens_sasrec": Design(MICROLENS, CPU, gpu_text_arms, CPU_GRIDS, main)}
    return {
        "microlens_sasrec": Design(MICROLENS, CPU, cpu_text_arms, CPU_MAIN_GRIDS, main),
        "posters_sasrec": Design(POSTERS, CPU, image_arms, CPU_GRIDS,
                                 "SASRec, movielens-small posters"),
        "microlens_dssm": Design(MICROLENS, CPU, dssm_arms, CPU_GRIDS,
                                 "DSSM, microlens-50k text, every user"),
        "microlens_warm20_all": Design(
            MICROLENS, (*CPU, "data.warm_min_item_interactions=20"), warm_arms, CPU_GRIDS,
            "SASRec, microlens-50k warm-20, every user"),
    }


GPU_EPOCHS = ("train.epochs=5",)
"""The end-to-end arms on one H100 for about ten minutes (reports/gpu_reproduction.sh): at most 5
epochs of every user, a cap set by the budget, not by convergence (the report names it)."""


def _epochs(group: str, name: str, loss: str) -> tuple[str, ...]:
    """The full-data CPU group caps epochs per loss (warm-20: 10), the GPU group at 5."""
    if group == "reproduction_gpu":
        return GPU_EPOCHS
    if group != "reproduction_cpu":
        return ()
    return ("train.epochs=10",) if "warm20" in name else CPU_EPOCHS[loss]


def build() -> list[Study]:
    studies = []
    for group in GROUPS:
        cheap, costly = GROUPS[group][3]
        prefix = GROUPS[group][0]
        for name, design in _designs(group).items():
            cheap_arms, costly_arms = design.arms_of(design.grids)  # type: ignore[operator]
            arms = (*(cheap_arms if cheap else ()), *(costly_arms if costly else ()))
            for loss, loss_settings in LOSSES.items():
                chosen = _softmax_for(arms, loss)
                if loss == "softmax" and cheap and any(
                        "encoder.mode=e2e" in arm.overrides for arm in arms):
                    # The end-to-end arms (and the side network) train on the in-batch softmax:
                    # their verdict needs an IDRec arm on the same loss (compare pairs arms of
                    # one loss only).
                    chosen = (*chosen, _in_batch(cheap_arms[0]))
                studies.append(Study(
                    name=f"{prefix}{name}_{loss}", group=group, seeds=3,
                    overrides=(*design.data, *PAPER, *design.sizing,
                               *_epochs(group, name, loss), *loss_settings),
                    arms=chosen, description=f"{design.what}, {loss} ({group})"))
    return studies


STUDIES = build()
