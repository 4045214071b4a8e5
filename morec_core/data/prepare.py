"""`prepare(config)`: read, filter and split a dataset once, then load it from disk in well
under a second.

A prepared dataset lives in `data_dir()/prepared/<source>-<key>/`, where the key hashes the
preprocessing fields of the `DataConfig` (not `max_title_tokens` or `image_size`, which only
concern the content caches), whether content is required, and the size and modification time
of every raw file the reader reads. Changing a raw file or a setting therefore prepares anew;
nothing has to be deleted by hand. The folder holds:

    offsets.npy, items.npy   the CSR sequences (int64)
    items.json               raw_ids, titles, image_paths of items 0..num_items
    users.json               raw user ids of users 0..num_users-1
    meta.json                format version, settings, raw files, and the step-by-step report

It is written to a temporary folder and renamed into place, so a failed or interrupted
preparation leaves no folder under the final name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from morec_core.config import HASHED_WHEN_SET, ConfigError, DataConfig
from morec_core.data.atomic import atomic_directory
from morec_core.data.audit import audit, content_reason, require_coverage
from morec_core.data.dataset import ItemContent, PreparedDataset
from morec_core.data.errors import DataError
from morec_core.data.preprocess import PrepareReport, StepCount, preprocess
from morec_core.data.raw import require_content as filter_content
from morec_core.data.readers import READERS, check_settings, get_reader
from morec_core.data.splits import check_given, given_order
from morec_core.paths import data_dir

FORMAT_VERSION = 3  # 2: dataset name is the folder name, not the raw path; 3: UniSRec rebuilt
# in its published order, and the data audit in meta.json
PREPROCESSING_FIELDS = ("source", "min_user_interactions", "max_seq_len", "user_sample",
                        "sample_seed", "warm_min_item_interactions")
# Settings added later, in the key only when not at their default: folders prepared before
# they existed (all of them at the default) keep their key. The data ones of the spec key's list.
LATER_FIELDS = tuple(name for section, name in HASHED_WHEN_SET if section == "data")


def prepared_root() -> Path:
    return data_dir() / "prepared"


def _source_path(config: DataConfig) -> Path:
    get_reader(config.source)  # an unknown source is named before a missing path
    if config.source == "demo":
        return Path()  # packaged data: the path is not used
    if not config.path:
        raise ConfigError(f"data.path: source {config.source!r} needs the folder of its raw files")
    return Path(config.path).expanduser().resolve()


def dataset_name(config: DataConfig) -> str:
    """A short, path-safe name: the raw folder's name ("microlens-50k"), or the source."""
    folder = _source_path(config).name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", folder).strip("._") or config.source


def _file_states(config: DataConfig) -> list[list[object]]:
    """[path, size, mtime_ns] of every raw file; a missing one is left for the reader to name."""
    states: list[list[object]] = []
    for path in get_reader(config.source).files(_source_path(config), config):
        if path.exists():
            stat = path.stat()
            states.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
        else:
            states.append([str(path), -1, -1])
    return states


def _settings(config: DataConfig, require_content: bool) -> dict[str, object]:
    settings: dict[str, object] = {name: getattr(config, name) for name in PREPROCESSING_FIELDS}
    defaults = DataConfig()
    settings.update({name: getattr(config, name) for name in LATER_FIELDS
                     if getattr(config, name) != getattr(defaults, name)})
    settings["path"] = str(_source_path(config))
    # Without the content filter the modality does not change the data: text and image
    # IDRec runs then share one prepared folder.
    settings["require_content"] = config.modality if require_content else ""
    return settings


def prepared_key(config: DataConfig, *, require_content: bool = True) -> str:
    """16 hex digits identifying the prepared data for these settings and raw files."""
    payload = {"format": FORMAT_VERSION, "settings": _settings(config, require_content),
               "files": _file_states(config)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def prepared_path(config: DataConfig, *, require_content: bool = True,
                  root: Path | None = None) -> Path:
    key = prepared_key(config, require_content=require_content)
    return (root or prepared_root()) / f"{config.source}-{key}"


def build(config: DataConfig, *, require_content: bool = True
          ) -> tuple[PreparedDataset, PrepareReport]:
    """Read and preprocess without touching the cache."""
    reader = get_reader(config.source)
    check_settings(config)
    if config.split == "given" and not reader.published_split:
        published = ", ".join(name for name, known in READERS.items() if known.published_split)
        raise ConfigError(f"data.split: source {config.source!r} publishes no split; given "
                          f"applies to {published}")
    raw = reader.read(_source_path(config), config)
    found = audit(raw, config)
    frame = raw.interactions
    read = StepCount(step="read", users=int(frame["user"].nunique()),
                     items=int(frame["item"].nunique()), interactions=len(frame))
    content_steps: list[StepCount] = []
    if config.split == "given":
        raw, targets = given_order(raw)
        frame = raw.interactions
        content_steps.append(StepCount(
            step="users with a given valid and test item", users=int(frame["user"].nunique()),
            items=int(frame["item"].nunique()), interactions=len(frame)))
    if require_content:
        raw, dropped = filter_content(raw, config.modality)
        frame = raw.interactions
        content_steps.append(StepCount(
            step=f"items with {config.modality} ({dropped} interactions dropped)",
            users=int(frame["user"].nunique()), items=int(frame["item"].nunique()),
            interactions=len(frame)))
        if frame.empty:
            raise DataError(f"no item has {config.modality}: "
                            f"{content_reason(found, config.modality)}", path=raw.name,
                            field="data.modality")
    dataset, report = preprocess(
        raw, min_user_interactions=config.min_user_interactions, max_seq_len=config.max_seq_len,
        user_sample=config.user_sample, sample_seed=config.sample_seed,
        warm_min_item_interactions=config.warm_min_item_interactions, dedupe=config.dedupe)
    if config.split == "given":
        check_given(dataset, targets, raw.name)
    steps = (read, *content_steps, *report.steps[1:])
    # Callers use the name in folder names (content caches), so not the raw path.
    return dataclasses.replace(dataset, name=dataset_name(config)), PrepareReport(
        steps=steps, warnings=(*found.warnings(config.modality), *report.warnings), audit=found)


def ensure_prepared(config: DataConfig, *, require_content: bool = True,
                    root: Path | None = None) -> Path:
    """The prepared folder for `config`, built first if it does not exist yet."""
    check_settings(config)  # before the files are looked at: a setting nothing reads
    path = prepared_path(config, require_content=require_content, root=root)
    if not (path / "meta.json").is_file():
        dataset, report = build(config, require_content=require_content)
        save_prepared(dataset, report, path, settings=_settings(config, require_content),
                      files=_file_states(config))
    return path


def check_content(config: DataConfig, *, root: Path | None = None) -> Path:
    """The prepared folder of `config`, after the gate of every arm whose item encoder reads
    content: a DataError when fewer than data.min_text_coverage of the items have it."""
    path = ensure_prepared(config, root=root)
    found = load_report(path).audit
    if found is not None:
        require_coverage(found, config, config.path or config.source)
    return path


def prepare(config: DataConfig, *, require_content: bool = True,
            root: Path | None = None) -> PreparedDataset:
    """The dataset `config` describes, from the cache when its inputs have not changed.

    `require_content` (default True) drops interactions of items without the content that
    `config.modality` needs, so that IDRec and MoRec runs on one DataConfig see the same data.
    """
    return load_prepared(ensure_prepared(config, require_content=require_content, root=root))


def save_prepared(dataset: PreparedDataset, report: PrepareReport, path: Path, *,
                  settings: dict[str, object], files: list[list[object]]) -> None:
    with atomic_directory(path) as folder:
        np.save(folder / "offsets.npy", dataset.offsets.astype(np.int64))
        np.save(folder / "items.npy", dataset.items.astype(np.int64))
        content = dataclasses.asdict(dataset.content)
        (folder / "items.json").write_text(json.dumps(content, ensure_ascii=False), "utf-8")
        (folder / "users.json").write_text(json.dumps(dataset.raw_user_ids), "utf-8")
        meta = {"format": FORMAT_VERSION, "name": dataset.name, "num_items": dataset.num_items,
                "num_users": dataset.num_users, "num_interactions": dataset.num_interactions,
                "settings": settings, "files": files, "report": report.to_dict()}
        # meta.json last: its presence marks a complete folder even without the rename.
        (folder / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise DataError("missing file (not a prepared dataset folder?)", path=path)
    return json.loads(path.read_text("utf-8"))


def load_prepared(path: Path) -> PreparedDataset:
    meta = _read_json(path / "meta.json")
    if meta.get("format") != FORMAT_VERSION:
        raise DataError(f"prepared with format {meta.get('format')}, this morec reads "
                        f"{FORMAT_VERSION}; prepare again", path=path / "meta.json",
                        field="format")
    content = ItemContent(**_read_json(path / "items.json"))
    users = json.loads((path / "users.json").read_text("utf-8"))
    dataset = PreparedDataset(name=meta["name"], offsets=np.load(path / "offsets.npy"),
                              items=np.load(path / "items.npy"), num_items=meta["num_items"],
                              content=content, raw_user_ids=users)
    if dataset.num_interactions != meta["num_interactions"] or dataset.num_users != len(users):
        raise DataError("arrays do not match meta.json; prepare again", path=path)
    return dataset


def load_report(path: Path) -> PrepareReport:
    return PrepareReport.from_dict(_read_json(path / "meta.json")["report"])
