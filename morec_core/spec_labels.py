"""What a recorded run was, read back once: its spec through `RunSpec.from_dict` (with the
upgrades a spec recorded by an older morec needs), and the labels every table derives from it.

The store's label columns, `morec compare`'s rows, `morec report`'s arm kinds and pairings and
the dashboard all read a recorded spec here, never by string key with their own defaults: a
setting added after a run was recorded takes the value that run ran with, in one place.
Torch-free: the store and the CLI's tables import it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from morec_core.config import DataConfig, RunSpec, data_identity
from morec_core.data.labels import dataset_label

LEGACY_TIE_RULE = "optimistic"
"""How runs recorded before `eval.ties` existed ranked an item tied with the target: ahead of
it (the score of the target was compared with `>`), not the expected rank of today's default."""

Paradigm = Literal["IDRec", "MoRec"]


def read_spec(raw: Mapping[str, Any]) -> RunSpec:
    """A recorded spec (the store's `spec_json`, an event's `spec`) as a RunSpec. Keys it lacks
    take what the run ran with: the defaults, but for the legacy upgrades below. Raises
    ConfigError for a key or a value this morec does not know."""
    sections = {name: dict(values) if isinstance(values, Mapping) else values
                for name, values in raw.items()}
    evaluation = sections.setdefault("eval", {})
    if isinstance(evaluation, dict):
        evaluation.setdefault("ties", LEGACY_TIE_RULE)
    return RunSpec.from_dict(sections)


@functools.lru_cache(maxsize=4096)
def read_spec_json(text: str) -> RunSpec:
    """read_spec of a spec's JSON text, remembered: `morec compare` reads each run's spec for
    its row key, its labels and its protocol (a RunSpec is frozen, so sharing it is safe)."""
    return read_spec(json.loads(text))


def arm_kind(spec: RunSpec) -> str:
    """The paper's name for the arm's way of using its item encoder: IDRec, E2E, top-k, frozen,
    scratch, TS / TS-DNN (two-stage, with `random weights` when not pretrained), adapter or
    fusion (ID + modality)."""
    encoder = spec.encoder
    if encoder.name == "id":
        return "IDRec"
    if encoder.fusion != "none":
        return "fusion"
    if encoder.adapter != "none":
        return "adapter"
    if encoder.mode == "two_stage":
        kind = "TS" if encoder.mlp_layers == 0 else "TS-DNN"
        return kind if encoder.pretrained else f"{kind} random weights"
    if not encoder.pretrained:
        return "scratch"
    finetune = encoder.finetune_layers
    return "E2E" if finetune < 0 else ("frozen" if finetune == 0 else "top-k")


def paradigm(spec: RunSpec) -> Paradigm:
    return "IDRec" if spec.encoder.name == "id" else "MoRec"


def data_view(spec: RunSpec) -> str:
    """The dataset view's label (morec_core.data.labels), e.g. `microlens-50k (microlens, text)`."""
    return dataset_label(spec.data)


def encoder_label(spec: RunSpec) -> str:
    """`text:minilm-l6`, `vision:mobilenetv2/TS-DNN2`, `id+text:minilm-l6/concat`: the store's
    encoder column, which the runs table and `morec compare` show."""
    encoder = spec.encoder
    label = encoder.name + (f":{encoder.model}" if encoder.model else "")
    if encoder.mode == "two_stage":
        label += "/TS" + (f"-DNN{encoder.mlp_layers}" if encoder.mlp_layers else "")
    if encoder.fusion != "none":
        label = f"id+{label}/{encoder.fusion}"
    return label


def protocol_fields(spec: RunSpec) -> dict[str, str]:
    """The evaluation settings that must be equal for two runs' numbers to be compared: the
    cutoff, whether the user's history is masked, and how ties with the target are ranked."""
    evaluation = spec.eval
    return {"k": str(evaluation.k),
            "history": "masked" if evaluation.mask_history else "not masked",
            "ties": evaluation.ties}


def data_key(spec: RunSpec) -> str:
    """The data section as JSON, without the settings that only decide whether a run may start
    (config.DATA_THRESHOLDS): equal for two runs on the same dataset view."""
    return json.dumps(data_identity(dataclasses.asdict(spec.data)), sort_keys=True)


def data_of_key(key: str) -> DataConfig:
    """The data section a `data_key` was made from (CompareRow.data_key)."""
    return RunSpec.from_dict({"data": json.loads(key)}).data


def setting_text(spec: RunSpec, dotted: str) -> str:
    """The value of `section.key` as `morec compare --by` shows it; '' for no such setting."""
    section, _, key = dotted.partition(".")
    values = getattr(spec, section, None)
    if not dataclasses.is_dataclass(values) or key not in {found.name for found in
                                                           dataclasses.fields(values)}:
        return ""
    value = getattr(values, key)
    # As the JSON the spec was recorded in reads back: a list, not a tuple.
    return str(list(value) if isinstance(value, tuple) else value)


def arm_identity(spec: RunSpec, *, without: Sequence[str] = ()) -> str:
    """What makes two arms the same but for `without` (encoder settings): the data view, the
    backbone, the loss and the encoder; not the searched values (learning rates, weight decay)
    nor the seed."""
    encoder = {key: value for key, value in dataclasses.asdict(spec.encoder).items()
               if key not in without}
    return json.dumps([data_identity(dataclasses.asdict(spec.data)), spec.backbone.name,
                       spec.train.loss, encoder], sort_keys=True, default=list)


def encoder_identity(spec: RunSpec) -> str:
    """The data view, backbone, loss and pretrained network of an arm, whatever it does with the
    network (end to end, two-stage, top-k...): the arms a cheaper way is set against."""
    return json.dumps([data_identity(dataclasses.asdict(spec.data)), spec.backbone.name,
                       spec.train.loss, spec.encoder.name, spec.encoder.model], sort_keys=True)
