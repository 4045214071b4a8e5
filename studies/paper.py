"""The paper's studies (Yuan et al., SIGIR 2023), for users with the original data and a model hub.

Data, under the data folder's raw/ (<data dir>/raw, $MOREC_DATA_DIR or ./data): MIND where
`morec data download mind-small` unpacks it (mind-small/MINDsmall_train), H&M (Kaggle) in hm/
and Bili (from the authors) in bili/; `morec tune` names what is missing. Encoders are hub
ids (bert-base-uncased, roberta-base, timm resnet50 / swin_tiny_patch4_window7_224), fetched
into the Hugging Face cache where the hub is reachable (`morec tune` says how). Settings follow
section 3: 5-core users, latest 23 (text) or 13 (images) interactions, titles cut at 30 tokens,
images at 224 px, leave-one-out, AdamW, dropout 0.1, SASRec with 2 blocks and 2 heads, the grids
of section 3.2.

Groups: table2 (regular setting, DSSM and SASRec), table3 (warm-20/50/200), table5 (two-stage,
TS-DNN and end-to-end), table7 (ID + modality fusion), table9 (cold and new items: every run
records them; see `morec compare --group table9 --cold-new`).
"""

from morec_core.paths import data_dir
from morec_core.studies import Arm, Study, idrec_arm, morec_arm

# The data folder setting, read when the study module is loaded (each `morec` command loads
# it anew), so that $MOREC_DATA_DIR moves the paper's data with everything else.
ROOT = data_dir() / "raw"

DATASETS = {
    # name: (source, folder, modality, latest N)
    "mind": ("mind", ROOT / "mind-small" / "MINDsmall_train", "text", 23),
    "hm": ("hm", ROOT / "hm", "image", 13),
    "bili": ("pairs", ROOT / "bili", "image", 13),
}
TEXT_ENCODERS = {"bert": "bert-base-uncased", "roberta": "roberta-base"}
VISION_ENCODERS = {"resnet50": "resnet50", "swin_t": "swin_tiny_patch4_window7_224"}
COMMON = ("train.epochs=100", "train.patience=5", "backbone.dropout=0.1")


def data(name: str, *extra: str) -> tuple[str, ...]:
    source, folder, modality, latest = DATASETS[name]
    return (f"data.source={source}", f"data.path={folder}", f"data.modality={modality}",
            f"data.max_seq_len={latest}", *COMMON, *extra)


def encoders_of(name: str) -> dict[str, tuple[str, str]]:
    """Short name -> (registry encoder, model) of the modality encoders for a dataset."""
    if DATASETS[name][2] == "text":
        return {short: ("text", model) for short, model in TEXT_ENCODERS.items()}
    return {short: ("vision", model) for short, model in VISION_ENCODERS.items()}


def table2() -> list[Study]:
    studies = []
    for dataset in DATASETS:
        for backbone in ("sasrec", "dssm"):
            suffix = "" if backbone == "sasrec" else "_dssm"
            studies.append(Study(
                name=f"{dataset}_id{suffix}", group="table2", overrides=data(dataset),
                description=f"Table 2: IDRec, {backbone}, {dataset}",
                arms=(idrec_arm(backbone=backbone),)))
            for short, (encoder, model) in encoders_of(dataset).items():
                studies.append(Study(
                    name=f"{dataset}_{short}{suffix}", group="table2", overrides=data(dataset),
                    description=f"Table 2: MoRec with {model} (E2E), {backbone}, {dataset}",
                    arms=(morec_arm(short, encoder, model, backbone=backbone),)))
    return studies


def table3() -> list[Study]:
    best = {"mind": ("bert", "text", "bert-base-uncased"),
            "hm": ("swin_t", "vision", "swin_tiny_patch4_window7_224"),
            "bili": ("swin_t", "vision", "swin_tiny_patch4_window7_224")}
    studies = []
    for dataset, (short, encoder, model) in best.items():
        for warm in (20, 50, 200):
            studies.append(Study(
                name=f"{dataset}_warm{warm}", group="table3",
                overrides=data(dataset, f"data.warm_min_item_interactions={warm}"),
                description=f"Table 3: IDRec vs {model} on {dataset} warm-{warm}",
                arms=(idrec_arm(), morec_arm(short, encoder, model))))
    return studies


def table5() -> list[Study]:
    models = {"mind": [("bert", "text", "bert-base-uncased")],
              "hm": [("resnet50", "vision", "resnet50"),
                     ("swin_t", "vision", "swin_tiny_patch4_window7_224")],
              "bili": [("resnet50", "vision", "resnet50"),
                       ("swin_t", "vision", "swin_tiny_patch4_window7_224")]}
    studies = []
    for dataset, encoders in models.items():
        for short, encoder, model in encoders:
            arms = [morec_arm(f"{short} E2E", encoder, model),
                    two_stage_arm(f"{short} TS", encoder, model, mlp_layers=0)]
            arms += [two_stage_arm(f"{short} TS-DNN {n}", encoder, model, mlp_layers=n)
                     for n in (2, 6, 8, 10, 12)]
            studies.append(Study(name=f"{dataset}_{short}_ts_vs_e2e", group="table5",
                                 overrides=data(dataset), arms=tuple(arms),
                                 description=f"Table 5: TS, TS-DNN and E2E with {model}"))
    return studies


def two_stage_arm(name: str, encoder: str, model: str, *, mlp_layers: int,
                  extra: tuple[str, ...] = ()) -> Arm:
    """Frozen features, extracted once: only the DT-layer (+ MLPs) and SASRec learn, at the
    rest's learning-rate grid (the encoder has nothing to train)."""
    return Arm(name=name, overrides=(
        f"encoder.name={encoder}", f"encoder.model={model}", "encoder.mode=two_stage",
        f"encoder.mlp_layers={mlp_layers}", "backbone.embed_dim=512", "train.batch_size=64",
        *extra), grid={"train.lr": (1e-3, 5e-4, 1e-4), "train.weight_decay": (0.1, 0.01, 0.0)})


def table7() -> list[Study]:
    best = {"mind": ("bert", "text", "bert-base-uncased"),
            "hm": ("swin_t", "vision", "swin_tiny_patch4_window7_224"),
            "bili": ("swin_t", "vision", "swin_tiny_patch4_window7_224")}
    studies = []
    for dataset, (_short, encoder, model) in best.items():
        arms = []
        for fusion in ("add", "concat"):
            for layers in (0, 2, 4, 6, 8):
                label = "w/o" if layers == 0 else f"w/ {layers}"
                arms.append(two_stage_arm(f"ID+TS {fusion} {label}", encoder, model, mlp_layers=0,
                                          extra=(f"encoder.fusion={fusion}",
                                                 f"encoder.fusion_mlp_layers={layers}")))
            arms.append(morec_arm(f"ID+E2E {fusion}", encoder, model,
                                  extra=(f"encoder.fusion={fusion}",)))
        studies.append(Study(name=f"{dataset}_fusion", group="table7", overrides=data(dataset),
                             arms=tuple(arms), description=f"Table 7: ID + {model} features"))
    return studies


def table9() -> list[Study]:
    return [Study(name=f"{dataset}_cold_new", group="table9", overrides=data(dataset),
                  description=f"Table 9: cold and new items, IDRec vs MoRec on {dataset}",
                  arms=(idrec_arm(embed_dims=(512,)),
                        morec_arm(short, *next(iter(encoders_of(dataset).values())))))
            for dataset, short in (("mind", "bert"), ("hm", "resnet50"), ("bili", "resnet50"))]


STUDIES = [*table2(), *table3(), *table5(), *table7(), *table9()]
