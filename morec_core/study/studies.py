"""Study definitions: a grid per arm (IDRec, each MoRec encoder), expanded into run specs.

A study module in `studies/` defines `STUDY = Study(...)` (or `STUDIES = [...]`). An arm is one
item encoder setup with its own learning-rate grid (paper 3.2: IDRec and MoRec search different
grids); each arm becomes its own Optuna study, so a pruner never compares IDRec with MoRec curves.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import itertools
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from morec_core.config import ConfigError, RunSpec
from morec_core.presets import find_preset

STUDIES_DIR_ENV = "MOREC_STUDIES_DIR"

# Paper 3.2's grids.
IDREC_LR = (1e-3, 5e-4, 1e-4, 5e-5)
IDREC_EMBED_DIM = (64, 128, 256, 512, 1024, 2048, 4096)
MOREC_ENCODER_LR = (1e-4, 5e-5, 1e-5)
MOREC_REST_LR = 1e-4
WEIGHT_DECAY = (0.1, 0.01, 0.0)


@dataclass(frozen=True, kw_only=True)
class Arm:
    name: str
    """Label in tables, e.g. "IDRec" or "MiniLM-L6 E2E"."""
    overrides: tuple[str, ...] = ()
    """Fixed `section.key=value` settings of this arm, on top of the study's."""
    grid: Mapping[str, tuple[object, ...]] = field(default_factory=dict)
    """`section.key` -> values; every combination is one trial."""


@dataclass(frozen=True, kw_only=True)
class GridPoint:
    study: str
    arm: str
    params: dict[str, object]
    """The grid values of this point, by `section.key`."""
    seed: int
    spec: RunSpec
    search: bool = True
    """On the study's first seed, where the grid is searched; False for the further seeds of
    an arm's selected configuration (never pruned)."""

    @property
    def key(self) -> str:
        """Stable identity of the point within its study."""
        params = "|".join(f"{name}={value!r}" for name, value in sorted(self.params.items()))
        return f"{self.arm}|{params}|seed={self.seed}"


@dataclass(frozen=True, kw_only=True)
class Study:
    name: str
    description: str
    overrides: tuple[str, ...] = ()
    """Settings shared by every arm (dataset, epochs, batch size...)."""
    arms: tuple[Arm, ...]
    seeds: int | tuple[int, ...] = 1
    """How many seeds the selected configuration of each arm gets (or the seeds themselves):
    the grid is searched on the first seed, then each arm's best configuration by validation
    is run again on the others (the paper's protocol, plus seeds for the verdict's statistics)."""
    seed: int = 42
    """The first seed, where the grid is searched; further seeds count up from it."""
    group: str = ""
    """Studies sharing a group form one table of `morec compare --group` (a paper table)."""
    preset: str = ""
    """A preset of morec_core.presets (e.g. paper): its settings after the study's and each
    arm's, its grid keys searched by every arm."""

    def __post_init__(self) -> None:
        if self.preset:
            find_preset(self.preset)  # an unknown name fails here, naming the presets
        values = self.seed_values
        if not values or len(set(values)) != len(values) or min(values) < 0:
            raise ConfigError(f"study {self.name}: seeds must be at least 1 distinct seed >= 0, "
                              f"got {self.seeds!r}")

    @property
    def seed_values(self) -> tuple[int, ...]:
        if isinstance(self.seeds, int):
            return tuple(range(self.seed, self.seed + self.seeds))
        return tuple(int(seed) for seed in self.seeds)

    def renamed_with(self, name: str, overrides: Sequence[str]) -> Study:
        """The study's arms and grids under another name, with `section.key=value` settings on
        top of its own (`morec tune --study demo --name mine --set data.path=...`): another
        study, since its runs are other runs (another dataset, another loss...)."""
        study = dataclasses.replace(self, name=name, overrides=(*self.overrides, *overrides),
                                    description=f"{self.description} ({', '.join(overrides)})",
                                    group="")
        study.points()  # a bad setting fails here, naming the study and the key
        return study

    def with_seeds(self, count: int) -> Study:
        """The study with `count` seeds from its first one (`morec tune --seeds`)."""
        return dataclasses.replace(self, seeds=count, seed=self.seed_values[0])

    def points(self) -> list[GridPoint]:
        """The search: every (arm, grid combination) on the first seed, in a deterministic order."""
        return [point for point in self.every_point() if point.search]

    def seed_points(self, arm: str, params: Mapping[str, object]) -> list[GridPoint]:
        """One configuration of an arm on the further seeds (after it won the search)."""
        definition = self.arm(arm)
        return [GridPoint(study=self.name, arm=arm, params=dict(params), seed=seed,
                          spec=self.spec_of(definition, params, seed), search=False)
                for seed in self.seed_values[1:]]

    def every_point(self) -> list[GridPoint]:
        """Every (arm, grid combination, seed): what a trial of this study may be."""
        return list(self._every_point)

    @functools.cached_property
    def _every_point(self) -> tuple[GridPoint, ...]:
        # Expanded once per Study (a frozen value): the preflight, the queueing and a worker's
        # every poll read the grid, and each point's spec parses its settings.
        points = []
        first, *others = self.seed_values
        for arm in self.arms:
            grid = self.grid_of(arm)
            names = sorted(grid)
            for values in itertools.product(*(grid[name] for name in names)):
                params = dict(zip(names, values, strict=True))
                for seed in (first, *others):
                    points.append(GridPoint(study=self.name, arm=arm.name, params=params,
                                            seed=seed, spec=self.spec_of(arm, params, seed),
                                            search=seed == first))
        return tuple(points)

    def grid_of(self, arm: Arm) -> dict[str, tuple[object, ...]]:
        """The arm's grid, with the preset's searched keys added (or replacing the arm's)."""
        preset = find_preset(self.preset).grid if self.preset else {}
        return {**arm.grid, **preset}

    def with_preset(self, name: str) -> Study:
        """The study under a preset, as a study of its own (`morec tune --preset paper`):
        named <study>_<preset> unless renamed, since its runs are other runs."""
        find_preset(name)
        study = dataclasses.replace(self, name=f"{self.name}_{name}", preset=name, group="",
                                    description=f"{self.description} (preset {name})")
        study.points()  # a setting the preset makes invalid fails here, naming the arm
        return study

    def spec_of(self, arm: Arm, params: Mapping[str, object], seed: int) -> RunSpec:
        grid = [f"{name}={_text(value)}" for name, value in params.items()]
        preset = find_preset(self.preset).overrides if self.preset else ()
        try:
            return RunSpec().with_overrides([*self.overrides, *arm.overrides, *preset, *grid,
                                             f"train.seed={seed}"])
        except ConfigError as error:
            raise ConfigError(f"study {self.name}, arm {arm.name}: {error}") from None

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(f"study {self.name} has no arm {name!r}")


def idrec_arm(*, backbone: str = "sasrec", embed_dims: tuple[int, ...] = IDREC_EMBED_DIM,
              name: str = "IDRec", extra: tuple[str, ...] = ()) -> Arm:
    """Paper 3.2's IDRec grid: lr x d x weight decay; batch 128 (SASRec) or 1024 (DSSM)."""
    return Arm(name=name, overrides=("encoder.name=id", f"backbone.name={backbone}",
                                     f"train.batch_size={128 if backbone == 'sasrec' else 1024}",
                                     *extra),
               grid={"train.lr": IDREC_LR, "backbone.embed_dim": embed_dims,
                     "train.weight_decay": WEIGHT_DECAY})


def morec_arm(name: str, encoder: str, model: str, *, backbone: str = "sasrec",
              extra: tuple[str, ...] = (), encoder_lrs: tuple[float, ...] = MOREC_ENCODER_LR,
              weight_decays: tuple[float, ...] = WEIGHT_DECAY) -> Arm:
    """Paper 3.2's MoRec grid: encoder lr x weight decay, lr 1e-4 for the rest, d = 512,
    batch 64 (SASRec) or 512 (DSSM). The paper names one weight decay for "MoRec"; it is searched
    here for the randomly initialised part, the pretrained encoder keeping its own (default 0)."""
    return Arm(name=name, overrides=(
        f"encoder.name={encoder}", f"encoder.model={model}", f"backbone.name={backbone}",
        "backbone.embed_dim=512", f"train.lr={MOREC_REST_LR}",
        f"train.batch_size={64 if backbone == 'sasrec' else 512}", *extra),
        grid={"train.lr_encoder": encoder_lrs, "train.weight_decay": weight_decays})


def _text(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple | list) else str(value)


PACKAGED_STUDIES_DIR = Path(__file__).resolve().parents[2] / "studies"
"""The studies that come with morec (demo, paper, shared_data): the checkout's `studies/`,
beside the package, so that `morec tune --study demo` works from any folder."""


def studies_dir() -> Path:
    """The user's study folder: $MOREC_STUDIES_DIR, else ./studies."""
    return Path(os.environ.get(STUDIES_DIR_ENV, "studies")).expanduser()


def study_folders(folder: Path | None = None) -> list[Path]:
    """Where studies are looked up, first wins: `folder` alone when given; else the user's
    folder, then the packaged studies."""
    if folder is not None:
        return [folder]
    folders: list[Path] = []
    for candidate in (studies_dir(), PACKAGED_STUDIES_DIR):
        if candidate.is_dir() and candidate.resolve() not in [known.resolve() for known in folders]:
            folders.append(candidate)
    return folders


_LOADING: set[Path] = set()
"""Study modules being executed now: a module that calls find_study (to build on another
study) makes load_studies run inside its own loading; it is skipped there, not re-entered
until the stack overflows (issue 22)."""


def load_studies(folder: Path | None = None) -> dict[str, Study]:
    """Every study of `folder`, or of the user's folder and the packaged studies (a user study
    of the same name as a packaged one replaces it)."""
    found: dict[str, Study] = {}
    for directory in study_folders(folder):
        here: dict[str, Study] = {}
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_") or path.resolve() in _LOADING:
                continue
            for study in _studies_of(_load_module(path)):
                if study.name in here:
                    raise ConfigError(f"{path}: study {study.name!r} is defined twice")
                here[study.name] = study
        found = {**here, **found}
    return found


def searched() -> str:
    """Where studies were looked for, for messages."""
    places = [f"{studies_dir()} (${STUDIES_DIR_ENV} or ./studies)"]
    if PACKAGED_STUDIES_DIR.is_dir():
        places.append(f"the packaged studies in {PACKAGED_STUDIES_DIR}")
    return ", ".join(places)


def find_study(name: str, folder: Path | None = None) -> Study:
    """A study by name, or by the path of a study module."""
    if name.endswith(".py"):
        defined = _studies_of(_load_module(Path(name)))
        if len(defined) != 1:
            raise ConfigError(f"{name}: defines {len(defined)} studies; name one of them")
        return defined[0]
    studies = load_studies(folder)
    if name not in studies:
        known = ", ".join(sorted(studies)) or "none"
        where = folder if folder is not None else searched()
        raise ConfigError(f"unknown study {name!r}; known: {known} (looked in {where}; "
                          "or give the path of a study module)")
    return studies[name]


def group_studies(group: str, folder: Path | None = None) -> list[Study]:
    studies = [study for study in load_studies(folder).values() if study.group == group]
    if not studies:
        raise ConfigError(f"no study in group {group!r}")
    return studies


def _load_module(path: Path) -> ModuleType:
    if not path.is_file():
        raise ConfigError(f"{path}: no such study module")
    spec = importlib.util.spec_from_file_location(f"morec_study_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs, as an import would: dataclasses (and pickle, typing) look a
    # class's module up in sys.modules, and a study module may define its own.
    sys.modules[spec.name] = module
    _LOADING.add(path.resolve())
    try:
        spec.loader.exec_module(module)
    except ConfigError as error:
        sys.modules.pop(spec.name, None)
        # A bad Study(...) or a find_study of the module's own: already one line; named here
        # when it does not name the module.
        if str(path) in str(error):
            raise
        raise ConfigError(f"{path}: {error}") from error
    except Exception as error:
        sys.modules.pop(spec.name, None)
        # The user's code failed (a typo, a missing import): one line naming the file and the
        # exception; `morec --debug` shows the traceback (raised from it).
        raise ConfigError(f"{path}: the study module failed to load: "
                          f"{type(error).__name__}: {error}") from error
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    finally:
        _LOADING.discard(path.resolve())
    return module


def _studies_of(module: ModuleType) -> list[Study]:
    studies = list(getattr(module, "STUDIES", []))
    if hasattr(module, "STUDY"):
        studies.append(module.STUDY)
    for study in studies:
        if not isinstance(study, Study):
            raise ConfigError(f"{module.__file__}: {study!r} is not a Study")
    return studies
