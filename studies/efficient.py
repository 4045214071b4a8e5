"""microlens_efficient: cheaper ways to adapt the item encoder against full end-to-end training
and IDRec, in one study (issue 18): MiniLM-L6 end to end, top-2 layers, LoRA, Houlsby adapters,
an IISAN-style side network over cached layer states, two-stage features, and IDRec.

Every arm searches the same budget: three learning rates of what it trains (the encoder's
parameters or adapters under train.lr_encoder, everything else at 1e-4; two-stage and IDRec, which
have no encoder to train, their train.lr), one weight decay, d = 512, on seed 42, then the best of
each arm on seeds 43 and 44 for `morec compare`'s intervals and verdicts. Adapters, LoRA and
the side network are new weights trained from scratch, so their grid sits an order of magnitude
above the one for fine-tuning pretrained weights. The runs table holds each arm's cost
(trainable parameters, s/epoch, peak memory) beside its accuracy; benchmarks/bench_efficient.py
measures the same arms' steps in one process.

The E2E arms are GPU jobs on the full data (MiniLM-L6 E2E is about 1 s a batch of 64 on 2 CPU
cores). On a CPU: `morec tune --study microlens_efficient --name eff_small --set
data.user_sample=2000`.
"""

import os
from pathlib import Path

from morec_core.studies import Arm, Study

SHARED = Path(os.environ.get("MOREC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
# As studies/shared_data.py's microlens-50k studies, so the two studies' runs compare.
MICROLENS = ("data.source=microlens", f"data.path={SHARED / 'microlens-50k'}",
             "data.modality=text", "data.max_seq_len=23", "train.epochs=50", "train.patience=5")
COMMON = ("backbone.embed_dim=512", "train.weight_decay=0.01")
MINILM = ("encoder.name=text", "encoder.model=minilm-l6", "train.batch_size=64", "train.lr=1e-4")
FINE_TUNING_LR = (1e-4, 5e-5, 1e-5)
"""train.lr_encoder of the pretrained weights (the paper's MoRec grid)."""
ADAPTER_LR = (1e-3, 5e-4, 1e-4)
"""train.lr_encoder of adapters, LoRA and the side network: weights trained from scratch."""
REST_LR = (1e-3, 5e-4, 1e-4)
"""train.lr of the arms without an encoder to train (two-stage, IDRec)."""


def minilm_arm(name: str, *settings: str, grid: tuple[float, ...] = FINE_TUNING_LR) -> Arm:
    return Arm(name=name, overrides=(*MINILM, *settings), grid={"train.lr_encoder": grid})


ARMS = (
    minilm_arm("MiniLM-L6 E2E"),
    minilm_arm("MiniLM-L6 top-2", "encoder.finetune_layers=2"),
    minilm_arm("MiniLM-L6 LoRA r8", "encoder.adapter=lora", "encoder.adapter_rank=8",
               "encoder.lora_alpha=16", grid=ADAPTER_LR),
    minilm_arm("MiniLM-L6 Houlsby 64", "encoder.adapter=houlsby", "encoder.adapter_rank=64",
               grid=ADAPTER_LR),
    minilm_arm("MiniLM-L6 side 64", "encoder.adapter=side", "encoder.adapter_rank=64",
               grid=ADAPTER_LR),
    Arm(name="MiniLM-L6 TS", overrides=("encoder.name=text", "encoder.model=minilm-l6",
                                        "encoder.mode=two_stage", "train.batch_size=64"),
        grid={"train.lr": REST_LR}),
    Arm(name="IDRec", overrides=("encoder.name=id", "train.batch_size=128"),
        grid={"train.lr": REST_LR}),
)

STUDY = Study(name="microlens_efficient", group="efficient", overrides=(*MICROLENS, *COMMON),
              seeds=3, arms=ARMS,
              description="MiniLM-L6 on microlens-50k: E2E, top-2, LoRA, Houlsby adapters, "
                          "side network on cached layer states, TS and IDRec, 3 learning rates "
                          "each, best on 3 seeds")
