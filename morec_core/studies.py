"""The public path of study definitions, kept for study modules: `from morec_core.studies import
Arm, Study` (the studies/ folder's modules and users' own). The definitions live in
morec_core.study.studies since the layout grouped the engine by part (issue 26); every name of
that module is reachable here, so a study module written before the move keeps working.
"""

from __future__ import annotations

from typing import Any

from morec_core.study import studies as _studies
from morec_core.study.studies import (
    IDREC_EMBED_DIM,
    IDREC_LR,
    MOREC_ENCODER_LR,
    MOREC_REST_LR,
    PACKAGED_STUDIES_DIR,
    STUDIES_DIR_ENV,
    WEIGHT_DECAY,
    Arm,
    GridPoint,
    Study,
    find_study,
    group_studies,
    idrec_arm,
    load_studies,
    morec_arm,
    searched,
    studies_dir,
    study_folders,
)

__all__ = ["IDREC_EMBED_DIM", "IDREC_LR", "MOREC_ENCODER_LR", "MOREC_REST_LR",
           "PACKAGED_STUDIES_DIR", "STUDIES_DIR_ENV", "WEIGHT_DECAY", "Arm", "GridPoint", "Study",
           "find_study", "group_studies", "idrec_arm", "load_studies", "morec_arm", "searched",
           "studies_dir", "study_folders"]


def __getattr__(name: str) -> Any:
    # Any other name of the definitions module (a helper a study module reached for).
    return getattr(_studies, name)
