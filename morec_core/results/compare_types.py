"""What `morec compare` returns: its settings, one row per arm, and one paired comparison per
metric (morec_core.results.compare builds them; compare_verdicts compares them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from morec_core.data.fingerprint import DataFingerprint
from morec_core.results import stats

FORMATS = ("table", "markdown", "csv", "latex", "json")
TESTS = ("randomization", "t")
VERDICTS = ("MoRec better", "on par", "IDRec better")
RECOMPUTE_HINT = "per-user results missing: re-run `morec compare --recompute`"


@dataclass(frozen=True, kw_only=True)
class Settings:
    alpha: float = 0.05
    correction: str = "holm"
    """holm | bh | none, across every comparison of the table."""
    test: str = "randomization"
    """Which p-value the verdict reads: randomization | t."""
    wilcoxon: bool = False
    resamples: int = 10_000
    by: tuple[str, ...] = ()
    """Spec keys (`section.key`) whose values split rows and verdicts, e.g. train.loss."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.correction not in stats.CORRECTIONS:
            raise ValueError(f"unknown correction {self.correction!r}; known: "
                             f"{', '.join(stats.CORRECTIONS)}")
        if self.test not in TESTS:
            raise ValueError(f"unknown test {self.test!r}; known: {', '.join(TESTS)}")


DEFAULT_SETTINGS = Settings()


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """One MoRec arm against its IDRec counterpart on one test metric, paired over users."""

    metric: str
    control: str
    """The IDRec row compared with: `study/arm`."""
    users: int
    difference: float
    """Mean over users of MoRec minus IDRec (each user's metric averaged over seeds)."""
    difference_ci: tuple[float, float]
    relative: float | None
    """difference / IDRec's mean (Table 2's Improv.); None when IDRec's mean is 0."""
    relative_ci: tuple[float, float] | None
    p_t: float
    p_randomization: float
    p_wilcoxon: float | None
    p_adjusted: float
    """The verdict's p-value (Settings.test) after the table-wide correction."""
    verdict: str


@dataclass(frozen=True, kw_only=True)
class CompareRow:
    study: str
    dataset: str
    backbone: str
    loss: str
    arm: str
    encoder: str
    paradigm: str
    """IDRec (ID embedding item encoder) or MoRec (a modality encoder)."""
    by: dict[str, str]
    """Values of the Settings.by keys."""
    best_run: str | None
    """Run id of the selected configuration (of its first seed)."""
    run_ids: tuple[str, ...]
    """The selected configuration's runs, one per seed."""
    trial_ids: tuple[str, ...]
    """Every run of the arm (searched, seeds, failed...): what the tuning audit reads."""
    valid: float | None
    """Validation selection metric of the selected configuration (mean over its seeds)."""
    test: dict[str, float]
    """Mean test metrics over seeds, e.g. {"hr@10": ..., "ndcg@10": ..., "cold hr@10": ...}."""
    test_ci: dict[str, tuple[float, float]]
    """95% Student-t interval over seeds (empty with one seed)."""
    seeds: int
    configurations: int
    """Configurations searched (distinct settings but the seed): the arm's tuning budget."""
    trials: int
    outcomes: dict[str, int]
    """Runs by status: completed, pruned, collapsed, failed, interrupted, running..."""
    ties: float | None
    """Share of test users whose target tied with another item (mean over seeds)."""
    protocol: str
    protocol_fields: dict[str, str]
    """What must match for a comparison: k, history masking, tie rule, catalogue size."""
    data_key: str
    """The data section the row's runs share (JSON): the dataset view behind the label."""
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    """MoRec rows: per test metric, against the best IDRec row of the same group."""
    verdict_note: str = ""
    """MoRec rows without comparisons: why."""
    missing_user_results: tuple[str, ...] = ()
    """Selected runs recorded without per-user results (an older morec)."""
    notes: tuple[str, ...] = ()
    """One line per collapsed or failed run: which settings, and why."""
    cost: dict[str, float] = field(default_factory=dict)
    """Means over the selected runs of what each recorded (the paper's Table 6, TPME-style):
    trainable_params, seconds_per_epoch, peak_memory_bytes."""
    fingerprint: str = ""
    """The data the selected runs trained on (DataFingerprint JSON); '' when they were recorded
    before fingerprints existed."""
    training_seconds: float | None = None
    """Training seconds of one run of the selected configuration (the recorded epochs' seconds,
    mean over its seeds): the cost of the accuracy shown."""
    spent_seconds: float = 0.0
    """Training seconds of every run of the arm, searched and seeds: the tuning budget spent."""

    @property
    def data(self) -> DataFingerprint | None:
        return DataFingerprint.from_json(self.fingerprint)

    @property
    def label(self) -> str:
        return f"{self.study}/{self.arm}"

COST_FIELDS = ("trainable_params", "seconds_per_epoch", "peak_memory_bytes")
