"""The settings of `morec tune --launcher slurm`: what each worker job asks Slurm for.

From `--slurm-*` options on top of an optional `[slurm]` table of a TOML file (`--slurm-config`);
an unknown key or a wrong type is an error naming it. Kept apart from RunSpec: they change where
a run executes, never what it computes, so they are no part of a run's spec or its spec_key.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from morec_core.config import ConfigError


@dataclass(frozen=True, kw_only=True)
class SlurmSettings:
    jobs: int = 1
    """Worker jobs to submit; each drains the study's queue (one trial at a time)."""
    partition: str = ""
    """Slurm partition (empty: the cluster's default)."""
    time_min: int = 60
    """Time limit of each job in minutes; a job that reaches it checkpoints and is requeued."""
    gpus_per_trial: int = 0
    """GPUs of each job (its trial's); 0 for CPU trials. Above 1, each trial trains on that
    many DDP ranks (`morec run --nproc-per-node N` inside the job, through torchrun)."""
    cpus_per_task: int = 1
    mem_gb: float = 0.0
    """Memory of each job in GB (0: the partition's default)."""
    account: str = ""
    qos: str = ""
    signal_delay_s: int = 90
    """How long before the time limit Slurm sends SIGUSR2, for the trial to checkpoint."""
    max_requeues: int = 3
    """How many times a job that timed out is requeued (submitit's max_num_timeout)."""
    extra: dict[str, str] = field(default_factory=dict)
    """Further sbatch options, without the dashes: {"constraint": "a100", "exclude": "node7"}."""

    def __post_init__(self) -> None:
        for name in ("jobs", "time_min", "cpus_per_task"):
            if getattr(self, name) < 1:
                raise ConfigError(f"slurm.{name}: must be at least 1, not {getattr(self, name)}")
        for name in ("gpus_per_trial", "mem_gb", "signal_delay_s", "max_requeues"):
            if getattr(self, name) < 0:
                raise ConfigError(f"slurm.{name}: must not be negative")
        if self.signal_delay_s >= self.time_min * 60:
            raise ConfigError(f"slurm.signal_delay_s: {self.signal_delay_s} s is not shorter "
                              f"than the time limit ({self.time_min} min)")

    def with_changes(self, changes: dict[str, Any]) -> SlurmSettings:
        """These settings with `changes` (a [slurm] table, or the options given); unknown keys
        and wrong types are refused, naming the key."""
        known = {item.name: item for item in dataclasses.fields(self)}
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ConfigError(f"slurm.{key}: unknown setting; known: {', '.join(known)}")
            current = getattr(self, key)
            if isinstance(current, dict):
                if not isinstance(value, dict) or not all(
                        isinstance(item, str | int | float) for item in value.values()):
                    raise ConfigError(f"slurm.{key}: a table of sbatch options (name = value)")
                value = {str(name): str(item) for name, item in value.items()}
            elif isinstance(current, float) and isinstance(value, int) \
                    and not isinstance(value, bool):
                value = float(value)
            elif type(value) is not type(current):
                raise ConfigError(f"slurm.{key}: a {type(current).__name__}, not "
                                  f"{type(value).__name__} {value!r}")
            checked[key] = value
        return dataclasses.replace(self, **checked)

    def with_options(self, options: list[str]) -> SlurmSettings:
        """These settings with `key=value` options (`--slurm partition=gpu`, `--slurm
        extra.constraint=a100`), each value read as its field's type."""
        changes: dict[str, Any] = {}
        extra = dict(self.extra)
        known = {item.name for item in dataclasses.fields(self)}
        for option in options:
            key, equals, text = option.partition("=")
            key = key.strip()
            if not equals or not key:
                raise ConfigError(f"--slurm {option!r}: expected key=value, e.g. partition=gpu")
            if key.startswith("extra."):
                extra[key.removeprefix("extra.")] = text
                continue
            if key not in known or key == "extra":
                raise ConfigError(f"slurm.{key}: unknown setting; known: "
                                  f"{', '.join(sorted(known - {'extra'}))}, extra.<sbatch option>")
            kind = type(getattr(self, key))
            try:
                changes[key] = kind(text) if kind is not str else text
            except ValueError:
                raise ConfigError(f"slurm.{key}: a {kind.__name__}, not {text!r}") from None
        return self.with_changes({**changes, "extra": extra})

    @classmethod
    def from_toml(cls, path: Path) -> SlurmSettings:
        """The `[slurm]` table of a TOML file (the defaults where it has none)."""
        try:
            table = tomllib.loads(path.read_text()).get("slurm", {})
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"slurm config {path}: {error}") from None
        if not isinstance(table, dict):
            raise ConfigError(f"slurm config {path}: [slurm] is not a table")
        return cls().with_changes(table)
