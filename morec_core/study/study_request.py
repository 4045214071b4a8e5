"""What a caller asks of a study (`morec tune`'s options, a worker's command line, a Slurm
job's arguments, the dashboard's study job): a frozen StudyRequest, resolved into a Study in one
order (preset, then a new name with its settings, then seeds), and written on a command line
one way (`to_argv`, read back by `from_argv`).

Apart from study_launch so that the dashboard's job queue can write a study job's command line
without importing the store.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from morec_core.config import ConfigError

if TYPE_CHECKING:
    from morec_core.study.studies import Study


@dataclass(frozen=True, kw_only=True)
class StudyRequest:
    study: str
    """A study name from studies/ (or $MOREC_STUDIES_DIR), or the path of a study module."""
    preset: str | None = None
    name: str | None = None
    """Run the study's arms and grids as a study of this name, with `overrides` on top."""
    overrides: tuple[str, ...] = ()
    seeds: int | None = None
    """Seeds for each arm's selected configuration; None: the study's own."""
    compile_networks: bool = False
    processes_per_trial: int = 1
    """DDP processes per trial (a Slurm job's GPUs); 1 for one device."""

    def __post_init__(self) -> None:
        if self.overrides and not self.name:
            raise ConfigError("--set changes every run of the study: give the runs a study of "
                              "their own with --name NAME")

    def resolve(self) -> Study:
        """The Study this request runs. Raises ConfigError (an unknown study or setting)."""
        from morec_core.study.studies import find_study

        definition = find_study(self.study)
        if self.preset:
            definition = definition.with_preset(self.preset)
        if self.name:
            definition = definition.renamed_with(self.name, list(self.overrides))
        if self.seeds is not None:
            definition = definition.with_seeds(self.seeds)
        return definition

    def to_argv(self) -> list[str]:
        """The request as command-line options (those of `morec tune`, which from_argv reads)."""
        # Only what differs from the defaults, `--study` first: a plain study's job reads
        # `morec tune --study NAME --storage URL` as it always did.
        return ["--study", self.study,
                *(["--seeds", str(self.seeds)] if self.seeds is not None else []),
                *(["--preset", self.preset] if self.preset else []),
                *(["--name", self.name] if self.name else []),
                *[part for setting in self.overrides for part in ("--set", setting)],
                *(["--processes-per-trial", str(self.processes_per_trial)]
                  if self.processes_per_trial != 1 else []),
                *(["--compile"] if self.compile_networks else [])]

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> StudyRequest:
        options, _ = request_parser().parse_known_args(list(argv))
        return cls(study=options.study, preset=options.preset, name=options.name,
                   overrides=tuple(options.overrides), seeds=options.seeds,
                   compile_networks=options.compile_networks,
                   processes_per_trial=options.processes_per_trial)


def request_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--study", required=True)
    parser.add_argument("--compile", dest="compile_networks", action="store_true")
    parser.add_argument("--no-compile", dest="compile_networks", action="store_false")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--preset", default=None)
    parser.add_argument("--name", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--processes-per-trial", type=int, default=1)
    return parser
