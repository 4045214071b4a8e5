"""The paper's questions on the real data beside the checkout (../shared/data, or
$MOREC_SHARED_DATA) with the encoders that install offline (see requirements-models.txt).

- microlens-50k (text: video titles; the MIND stand-in): IDRec (the paper code's SASRec, and
  RecBole's) vs MiniLM-L6 end to end, top-2 layers, two-stage and TS-DNN, and GloVe (the shallow
  baseline). E2E runs are GPU jobs.
- movielens-small-posters (images: posters; the H&M / Bili stand-in): IDRec vs MobileNetV2 at
  112 px (the posters' own size), end to end and two-stage.
- movielens_minilm_lr: the learning-rate corner where MoRec collapses (paper Figure 5), small
  enough for a CPU in about two minutes.
"""

import os
from pathlib import Path

from morec_core.studies import IDREC_LR, WEIGHT_DECAY, Arm, Study, idrec_arm, morec_arm

SHARED = Path(os.environ.get("MOREC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MICROLENS = ("data.source=microlens", f"data.path={SHARED / 'microlens-50k'}",
             "data.modality=text", "data.max_seq_len=23", "train.epochs=50", "train.patience=5")
POSTERS = ("data.source=movielens", f"data.path={SHARED / 'movielens-small-posters'}",
           "data.modality=image", "data.max_seq_len=13", "data.image_size=112",
           "train.epochs=50", "train.patience=5")
POSTER_TITLES = ("data.source=movielens", f"data.path={SHARED / 'movielens-small-posters'}",
                 "data.modality=text", "data.max_seq_len=23", "train.patience=5")
SMALL_DIMS = (64, 128, 256, 512)
RECBOLE_SASREC = ("backbone.layer_norm=post", "backbone.init=normal", "train.loss=full_softmax")
"""RecBole's SASRec and loss (benchmarks/README.md: on microlens-50k it learns about twice as fast
per epoch as the paper code's SASRec with the in-batch softmax)."""


def ts_arm(name: str, encoder: str, model: str, mlp_layers: int = 0) -> Arm:
    return Arm(name=name, overrides=(f"encoder.name={encoder}", f"encoder.model={model}",
                                     "encoder.mode=two_stage", f"encoder.mlp_layers={mlp_layers}",
                                     "backbone.embed_dim=512", "train.batch_size=64"),
               grid={"train.lr": IDREC_LR, "train.weight_decay": WEIGHT_DECAY})


STUDIES = [
    Study(name="microlens_id", group="shared", overrides=MICROLENS,
          description="IDRec SASRec on microlens-50k: the paper code's SASRec and BCE, and "
                      "RecBole's (post-LN, N(0, 0.02), full softmax), which learns faster here",
          arms=(idrec_arm(embed_dims=SMALL_DIMS),
                idrec_arm(embed_dims=SMALL_DIMS, name="IDRec RecBole-style",
                          extra=RECBOLE_SASREC))),
    Study(name="microlens_minilm", group="shared", overrides=MICROLENS,
          description="MiniLM-L6 MoRec end to end on microlens-50k (a GPU job)",
          arms=(morec_arm("MiniLM-L6 E2E", "text", "minilm-l6"),)),
    Study(name="microlens_minilm_top2", group="shared", overrides=MICROLENS,
          description="MiniLM-L6 MoRec, top 2 layers fine-tuned (lower layers cached)",
          arms=(morec_arm("MiniLM-L6 top-2", "text", "minilm-l6",
                          extra=("encoder.finetune_layers=2",)),)),
    Study(name="microlens_minilm_ts", group="shared", overrides=MICROLENS,
          description="MiniLM-L6 two-stage and TS-DNN on microlens-50k",
          arms=(ts_arm("MiniLM-L6 TS", "text", "minilm-l6"),
                ts_arm("MiniLM-L6 TS-DNN 2", "text", "minilm-l6", 2),
                ts_arm("MiniLM-L6 TS-DNN 6", "text", "minilm-l6", 6))),
    Study(name="microlens_glove", group="shared", overrides=MICROLENS,
          description="GloVe 6B 50d mean-of-words MoRec (the shallow baseline)",
          arms=(morec_arm("GloVe E2E", "glove", "glove-6b-50d"),)),
    Study(name="movielens_posters_id", group="shared", overrides=POSTERS,
          description="IDRec SASRec on movielens-small-posters (items with a poster)",
          arms=(idrec_arm(embed_dims=SMALL_DIMS),)),
    Study(name="movielens_posters_mobilenet", group="shared", overrides=POSTERS,
          description="MobileNetV2 MoRec on posters, end to end and two-stage",
          arms=(morec_arm("MobileNetV2 E2E", "vision", "mobilenetv2"),
                ts_arm("MobileNetV2 TS", "vision", "mobilenetv2"))),
    Study(name="movielens_minilm_lr", group="collapse", overrides=(*POSTER_TITLES,
          "train.epochs=10", "encoder.name=text", "encoder.model=minilm-l6",
          "encoder.mode=two_stage", "backbone.embed_dim=64", "train.batch_size=64"),
          description="Figure 5 on real data: two-stage MiniLM at three learning rates; the "
                      "highest collapses",
          arms=(Arm(name="MiniLM-L6 TS", grid={"train.lr": (1e-1, 1e-2, 1e-3)}),)),
]
