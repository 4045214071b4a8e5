"""`morec data ...`: inspect, prepare and download datasets.

Command bodies import the engine's data modules (pandas, numpy, transformers) themselves, so
that `morec --help` loads none of them. Bad input (a `DataError`) or a bad setting (a
`ConfigError`) is printed as one `error: ...` line with exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from morec_core.config import ConfigError, DataConfig, RunSpec
from morec_core.data.errors import DataError
from morec_tui.console import fail

if TYPE_CHECKING:
    from morec_core.data.prepare import PrepareReport
    from morec_core.data.stats import DatasetStats

data_app = typer.Typer(help="Inspect, prepare and download datasets.", no_args_is_help=True,
                       rich_markup_mode=None)  # plain help, as the top-level app (cli.py)

SourceArgument = Annotated[str, typer.Argument(
    help="Reader: demo | pairs | microlens | mind | hm | movielens | recbole | unisrec | "
         "rechorus | table; `morec data formats` lists their files.")]
PathOption = Annotated[str, typer.Option("--path", help="Folder with the raw files.")]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", help="A data setting, e.g. --set data.max_seq_len=13 (repeatable).")]
ContentOption = Annotated[bool, typer.Option(
    "--require-content/--keep-all",
    help="Drop interactions of items without the modality's content (default), or keep all "
         "(ID-only runs).")]


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except (DataError, ConfigError) as error:
        fail(str(error))


def data_config(source: str, path: str, overrides: list[str] | None) -> DataConfig:
    """The DataConfig of SOURCE/--path with `data.key=value` overrides (the section may be
    omitted: `max_seq_len=13`)."""
    qualified = []
    for text in overrides or []:
        dotted = text.partition("=")[0]
        if "." not in dotted:
            text = f"data.{text}"
        elif not dotted.strip().startswith("data."):
            raise ConfigError(f"override {text!r}: only data.* settings apply to a dataset")
        qualified.append(text)
    base = RunSpec(data=DataConfig(source=source, path=path))
    return base.with_overrides(qualified).data


def _table(name: str, stats: DatasetStats) -> str:
    header = ("dataset", "n", "m", "|R|train", "|R|valid", "|R|test", "|R|train/(nm)")
    row = (name, f"{stats.users:,}", f"{stats.items:,}", f"{stats.train:,}", f"{stats.valid:,}",
           f"{stats.test:,}", f"{100 * stats.density:.4f}%")
    widths = [max(len(a), len(b)) for a, b in zip(header, row, strict=True)]
    lines = ["  ".join(cell.rjust(width) if column else cell.ljust(width)
                       for column, (cell, width) in enumerate(zip(cells, widths, strict=True)))
             for cells in (header, row)]
    return "\n".join(lines)


def _steps(report: PrepareReport) -> str:
    lines = ["steps:"]
    for step in report.steps:
        lines.append(f"  {step.step:<48} {step.users:>10,} users {step.items:>9,} items "
                     f"{step.interactions:>12,} interactions")
    return "\n".join(lines)


def _warn(report: PrepareReport) -> None:
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)


def _audit(report: PrepareReport) -> str:
    if report.audit is None:
        return "audit: none recorded (prepared by an older morec)"
    return "\n".join(["audit:", *(f"  {line}" for line in report.audit.lines())])


@data_app.command()
def info(source: SourceArgument, path: PathOption = "", overrides: SetOption = None,
         require_content: ContentOption = True,
         output_format: Annotated[str, typer.Option(
             "--format", help="table (default) | json: the same as one JSON object, for "
                              "scripts.")] = "table") -> None:
    """Print the paper's Table 1 columns for a dataset (preparing it first if needed), the
    preparation's steps, and the data audit: the share of items with text and with an image
    and the file and column they came from, items without content, repeated (user, item)
    pairs and what data.dedupe did with them, targets that repeat an earlier item, tied
    timestamps. Warnings (text that is only numbers or category codes, partial content, ties
    among users' last items) go to stderr.

    The paper's preprocessing applies: users with fewer than 5 interactions are dropped
    (data.min_user_interactions) and each user's latest 23 interactions are kept
    (data.max_seq_len; the paper uses 13 for images), repeated (user, item) pairs keep their
    first occurrence (data.dedupe)."""
    with _user_errors():
        from morec_core.data.labels import dataset_label
        from morec_core.data.prepare import ensure_prepared, load_prepared, load_report
        from morec_core.data.stats import dataset_stats

        if output_format not in ("table", "json"):
            raise ConfigError(f"--format: unknown format {output_format!r}; known: table, json")
        config = data_config(source, path, overrides)
        folder = ensure_prepared(config, require_content=require_content)
        dataset = load_prepared(folder)
        report = load_report(folder)
        stats = dataset_stats(dataset)
        label = dataset_label(config)
        if output_format == "json":
            typer.echo(json.dumps({
                "dataset": label, "prepared": str(folder),
                "stats": {**dataclasses.asdict(stats), "density": stats.density},
                **report.to_dict()}, indent=1))
            _warn(report)
            return
        typer.echo(_table(label, stats))
        typer.echo(_steps(report))
        typer.echo(_audit(report))
        _warn(report)
        typer.echo(f"prepared: {folder}")
        from morec_core.data.fingerprint import of_prepared

        typer.echo(f"{of_prepared(folder, dataset, config.modality).describe()} "
                   "(`morec data fingerprint` exports it)")


@data_app.command()
def prepare(
    source: SourceArgument,
    path: PathOption = "",
    overrides: SetOption = None,
    require_content: ContentOption = True,
    tokenizer: Annotated[str | None, typer.Option(
        help="Build the title token cache with the tokenizer of this text model: a packaged "
             "short name (minilm-l6), a local folder or a hub id, as in encoder.model.")] = None,
    images: Annotated[bool | None, typer.Option(
        "--images/--no-images",
        help="Build the image cache (default: when data.modality=image).")] = None,
) -> None:
    """Prepare a dataset and build its content caches."""
    with _user_errors():
        from morec_core.data.images import image_cache
        from morec_core.data.prepare import ensure_prepared, load_prepared, load_report
        from morec_core.data.stats import dataset_stats
        from morec_core.data.tokens import token_cache
        from morec_core.paths import content_cache_dir

        config = data_config(source, path, overrides)
        folder = ensure_prepared(config, require_content=require_content)
        dataset = load_prepared(folder)
        typer.echo(_table(dataset.name, dataset_stats(dataset)))
        _warn(load_report(folder))
        typer.echo(f"prepared: {folder}")
        # The very folder and tokenizer a run of this dataset reads (build.encoder_inputs).
        cache_dir = content_cache_dir(dataset.name)
        if tokenizer:
            from morec_core.encoders.text import load_tokenizer

            try:
                loaded = load_tokenizer(tokenizer)
            except (OSError, ValueError) as error:  # no tokenizer files there, no hub access
                raise DataError(f"cannot load a tokenizer ({error})", path=tokenizer) from None
            tokens = token_cache(dataset.content.titles, loaded,
                                 max_tokens=config.max_title_tokens, cache_dir=cache_dir)
            typer.echo(f"tokens: {tokens.path} {tokens.ids.shape}")
        if images if images is not None else config.modality == "image":
            array = image_cache(dataset.content.image_paths, size=config.image_size,
                                cache_dir=cache_dir)
            typer.echo(f"images: {array.filename} {array.shape}")


@data_app.command()
def fingerprint(source: SourceArgument, path: PathOption = "", overrides: SetOption = None,
                require_content: ContentOption = True,
                output: Annotated[Path | None, typer.Option(
                    help="Write the JSON to this file (default: print it).")] = None) -> None:
    """Print a dataset's data fingerprint as JSON: hashes of its users, items, each user's
    sequence, the validation and test targets and the item content (titles, or image bytes
    under data.modality=image), with its counts. Equal on every machine that prepared the same
    files the same way; every run records the one it trained on, and `morec compare` refuses
    to pair arms whose fingerprints differ."""
    with _user_errors():
        from morec_core.data.atomic import atomic_file
        from morec_core.data.fingerprint import of_prepared
        from morec_core.data.prepare import ensure_prepared, load_prepared

        config = data_config(source, path, overrides)
        folder = ensure_prepared(config, require_content=require_content)
        found = of_prepared(folder, load_prepared(folder), config.modality)
        if output is None:
            typer.echo(found.to_json())
            return
        with atomic_file(output) as temporary:
            temporary.write_text(found.to_json() + "\n", "utf-8")
        typer.echo(f"{found.describe()}: written to {output}", err=True)


@data_app.command()
def download(
    name: Annotated[str, typer.Argument(help="A catalog name; see `morec data catalog`.")],
    root: Annotated[str | None, typer.Option(
        help="Download folder (default: <data dir>/raw).")] = None,
) -> None:
    """Download a public dataset (resumable, checksum-verified) or say how to obtain it."""
    with _user_errors():
        from morec_core.data.catalog import catalog_entry
        from morec_core.data.download import fetch
        from morec_core.paths import data_dir

        entry = catalog_entry(name)
        if not entry.files:
            typer.echo(f"{entry.name}: no direct download. {entry.manual}")
            typer.echo(f"licence: {entry.licence}")
            return
        for remote in entry.files:
            if remote.sha256 is None:
                typer.echo(f"note: {remote.filename}: size/checksum not pinned", err=True)
        folder = fetch(entry, Path(root) if root else data_dir() / "raw")
        typer.echo(f"licence: {entry.licence}")
        if entry.manual:
            typer.echo(entry.manual)
        typer.echo(f"next: morec data prepare {entry.source} --path {folder}")


@data_app.command()
def catalog() -> None:
    """List the datasets `morec data download` knows."""
    from morec_core.data.catalog import CATALOG

    for entry in CATALOG.values():
        how = "download" if entry.files else "manual"
        typer.echo(f"{entry.name:<16} {entry.source:<10} {how:<9} {entry.summary}")


@data_app.command()
def formats(
    source: Annotated[str | None, typer.Argument(
        help="One reader (default: all of them).")] = None,
) -> None:
    """List each reader's files: columns, types, encoding, an example line, what is optional."""
    with _user_errors():
        from morec_core.data.readers import READERS, get_reader

        names = [source] if source else list(READERS)
        for position, name in enumerate(names):
            reader = get_reader(name)
            if position:
                typer.echo("")
            typer.echo(f"{name}: {reader.summary}")
            for file in reader.formats:
                typer.echo(f"  {file.name}{' (optional)' if file.optional else ''}")
                typer.echo(f"    columns:  {file.columns}")
                typer.echo(f"    encoding: {file.encoding}")
                typer.echo(f"    example:  {file.example}")
