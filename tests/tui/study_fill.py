"""A study the study-view tests build: `lrs`, two arms searching train.lr over three values on
seed 42, then three seeds of IDRec's winner. IDRec's lr 1e-2 collapsed; MiniLM's first point
runs and its other two have no run yet; Optuna's storage holds IDRec's finished trials."""

from __future__ import annotations

from pathlib import Path

from morec_core.run import events as ev
from morec_core.store import Store
from morec_core.study.studies import Arm, Study
from tests.tui.fill import T0

STUDY_MODULE = '''
from morec_core.study.studies import Arm, Study

STUDIES = [
    Study(name="lrs", description="", seeds=3, overrides=("train.epochs=4",),
          arms=(Arm(name="IDRec", grid={"train.lr": (1e-4, 1e-3, 1e-2)}),
                Arm(name="MiniLM", overrides=("encoder.name=text", "encoder.model=minilm-l6"),
                    grid={"train.lr": (1e-4, 1e-3, 1e-2)}))),
]
'''
LRS = Study(name="lrs", description="", seeds=3, overrides=("train.epochs=4",),
            arms=(Arm(name="IDRec", grid={"train.lr": (1e-4, 1e-3, 1e-2)}),
                  Arm(name="MiniLM", overrides=("encoder.name=text", "encoder.model=minilm-l6"),
                      grid={"train.lr": (1e-4, 1e-3, 1e-2)})))
# (run id, arm, lr, seed, status, best validation ndcg@10 per epoch)
TRIALS = (
    ("d1" * 16, "IDRec", 1e-4, 42, "completed", (0.02, 0.04, 0.05)),
    ("d2" * 16, "IDRec", 1e-3, 42, "completed", (0.05, 0.09, 0.11)),
    ("d3" * 16, "IDRec", 1e-2, 42, "collapsed", (0.03, 0.0009)),
    ("d4" * 16, "IDRec", 1e-3, 43, "completed", (0.06, 0.10, 0.12)),
    ("d5" * 16, "IDRec", 1e-3, 44, "completed", (0.05, 0.08, 0.10)),
    ("d6" * 16, "MiniLM", 1e-4, 42, "running", (0.03,)),
)
COLLAPSED = "d3" * 16


def fill_study(store: Store, folder: Path) -> None:
    """The runs of TRIALS in `store`, and the study module in `folder`."""
    (folder / "lrs.py").write_text(STUDY_MODULE)
    for index, (run_id, arm, lr, seed, status, values) in enumerate(TRIALS):
        spec = LRS.spec_of(LRS.arm(arm), {"train.lr": lr}, seed)
        start = T0 + 1000 * index
        store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                                   selection_metric="ndcg@10", host="box", pid=1, device="cpu",
                                   study="lrs", arm=arm, trial_number=index, time=start))
        for epoch, value in enumerate(values):
            store.record(ev.EpochEnded(run_id=run_id, epoch=epoch, loss=1.0 - 0.1 * epoch,
                                       learning_rates={"rest": lr}, seconds=10.0,
                                       time=start + 10 * epoch + 1))
            store.record(ev.Evaluated(run_id=run_id, epoch=epoch, split="valid",
                                      metrics={"hr@10": 2 * value, "ndcg@10": value},
                                      time=start + 10 * epoch + 2))
        best = max(range(len(values)), key=lambda epoch: values[epoch])
        if status in ("completed", "collapsed"):
            store.record(ev.RunFinished(run_id=run_id, status=status, best_epoch=best,
                                        reason="validation at random level" if
                                        status == "collapsed" else "", time=start + 100))
        else:
            store.record(ev.Heartbeat(run_id=run_id, time=T0 + 10**8))  # alive: not reaped


def fill_optuna(store_url: str) -> None:
    """IDRec's search trials as `morec tune` tells them to Optuna (lr and seed as params)."""
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution

    from morec_core.study.tune import optuna_url_for

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="lrs:IDRec", storage=optuna_url_for(store_url),
                                direction="maximize")
    for _, arm, lr, seed, status, values in TRIALS:
        if arm == "IDRec" and status == "completed":
            study.add_trial(optuna.trial.create_trial(
                params={"train.lr": lr, "seed": seed},
                distributions={"train.lr": FloatDistribution(1e-4, 1e-2, log=True),
                               "seed": IntDistribution(42, 44)},
                value=max(values)))
