"""Run specifications: frozen, typed sections composed by one `RunSpec`.

Every run stores its full spec as JSON. `from_dict` is strict (an unknown key or a wrong type is
an error naming the key), and `--set section.key=value` overrides are parsed against the same
field types, so a typo can never be silently ignored (morec_core.settings_parser).

Above 400 lines on purpose: the five sections and RunSpec are one schema, each field with its
docstring and its check beside it; read together, they are what a run can be.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from morec_core.settings_parser import ConfigError as ConfigError
from morec_core.settings_parser import build_section, field_types, parse_value

# numpy's seeding limit (np.random.seed, RandomState); torch and random accept it as well.
MAX_SEED = 2**32 - 1
# Far above any recommender's width (the paper's largest is 512), far below what a 17K-item ID
# table can allocate: 10**9 would ask for terabytes and die in the allocator, not here.
MAX_EMBED_DIM = 65_536
# torch.device's spellings of the devices morec places runs on; config.py must not import torch
# (`morec --help` would load it), so the rule is written out here.
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


DATA_SOURCES = ("demo", "pairs", "microlens", "mind", "hm", "movielens", "recbole", "unisrec",
                "rechorus", "table")
"""The readers of morec_core.data.readers.READERS (a test keeps the two equal), named here so
that the CLI's help and the dashboard's form need not import the readers (pandas)."""


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    source: str = "demo"
    """Reader of the raw files: demo | pairs | microlens | mind | hm | movielens | recbole |
    unisrec | rechorus | table (`morec data formats` describes each one's files)."""
    path: str = ""
    """Folder with the raw files; empty for the packaged demo."""
    modality: str = "text"
    """Item content the modality encoders see: text | image."""
    min_user_interactions: int = 5
    """Users with fewer interactions are dropped (paper 3.1: no cold users)."""
    max_seq_len: int = 23
    """Each user's latest N interactions are kept (paper: 23 for text, 13 for images)."""
    user_sample: int = 0
    """Seeded subsample of this many users (the paper's 50K variants); 0 keeps everyone."""
    sample_seed: int = 0
    """Seed of the user subsample, independent of the training seed."""
    warm_min_item_interactions: int = 0
    """Warm-K view: drop items with fewer than K interactions, then re-filter users; 0 = off."""
    max_title_tokens: int = 30
    """Titles are truncated to this many tokens (paper: 30, covering 99% of titles)."""
    image_size: int = 224
    """Images are resized to S x S once, into the content cache."""
    split: str = "leave_one_out"
    """leave_one_out: each user's last item is the test target, the second last the validation
    target | given: the published train/valid/test split of a unisrec or rechorus folder."""
    dedupe: str = "first"
    """first: a repeated (user, item) pair keeps its earliest occurrence (the paper) | keep:
    repeats stay, to match counts published without deduplication."""
    interactions_file: str = ""
    """table source: the interactions file (.csv, .tsv or .parquet) in data.path; empty looks
    for interactions.csv, interactions.tsv, interactions.parquet."""
    items_file: str = ""
    """The items file in data.path, for every source with item content (`morec data formats`
    names each one's default: table items.csv/.tsv/.parquet, unisrec <name>.text, rechorus
    <name>.text or item_meta.csv, mind news.tsv, hm articles.csv, movielens movies.csv, ...)."""
    user_column: str = "user_id"
    """table source: the user id column of the interactions file."""
    item_column: str = "item_id"
    """table source: the item id column of the interactions and items files."""
    time_column: str = ""
    """table source: the time column (numbers or ISO 8601 times); empty keeps file order."""
    text_columns: str = ""
    """Items-file columns joined with " " into the item text, comma-separated, for every source
    with item content; empty uses the source's own (a `title` column, UniSRec's `text`...)."""
    image_column: str = ""
    """table source: items-file column holding an image path (relative to data.path)."""
    image_pattern: str = ""
    """table source: image path pattern relative to data.path, e.g. images/{item}.jpg."""
    min_text_coverage: float = 0.9
    """A threshold, not part of the data: an arm whose item encoder reads content (text, vision,
    glove) refuses to start when fewer than this share of the items have it (data.modality's
    text, or an image; text that is only numbers does not count). Not in RunSpec.spec_key."""

    def __post_init__(self) -> None:
        _check_finite(self, "data")
        _check(self.source in DATA_SOURCES, "data.source",
               f"unknown source {self.source!r}; known: {', '.join(DATA_SOURCES)}")
        _check(self.split in ("leave_one_out", "given"), "data.split",
               "must be leave_one_out or given")
        _check(self.dedupe in ("first", "keep"), "data.dedupe", "must be first or keep")
        _check(not (self.image_column and self.image_pattern), "data.image_pattern",
               "set data.image_column or data.image_pattern, not both")
        _check(not self.image_pattern or "{item}" in self.image_pattern, "data.image_pattern",
               "must contain {item}, e.g. images/{item}.jpg")
        _check(self.modality in ("text", "image"), "data.modality", "must be text or image")
        _check(self.min_user_interactions >= 3, "data.min_user_interactions",
               "must be >= 3 (leave-one-out needs train, valid and test items)")
        _check(self.max_seq_len >= 3, "data.max_seq_len", "must be >= 3")
        _check(self.user_sample >= 0, "data.user_sample", "must be >= 0")
        _check_seed(self.sample_seed, "data.sample_seed")
        _check(self.warm_min_item_interactions >= 0, "data.warm_min_item_interactions", "must be >= 0")
        _check(self.max_title_tokens >= 1, "data.max_title_tokens", "must be >= 1")
        _check(self.image_size >= 16, "data.image_size", "must be >= 16")
        _check(0.0 <= self.min_text_coverage <= 1.0, "data.min_text_coverage",
               "must be in [0, 1]")


ADAPTERS = ("none", "lora", "houlsby", "side")
"""encoder.adapter's choices (morec_core/encoders/adapters.py and side.py)."""


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    name: str = "id"
    """Item encoder from the registry: id | text | vision | glove."""
    model: str = ""
    """Pretrained model: a short name of a packaged model, a local folder, or a hub id."""
    pretrained: bool = True
    """False trains the same architecture from random initialisation (paper Table 4, TFS)."""
    finetune_layers: int = -1
    """-1 fine-tunes every layer, 0 freezes the encoder, k > 0 fine-tunes the top k layers."""
    pooling: str = "cls"
    """Text pooling: cls (the paper's [CLS] vector) | mean."""
    mode: str = "e2e"
    """e2e: encoder trained with the rest; two_stage: frozen features extracted once and cached."""
    mlp_layers: int = 0
    """Dense layers on top of the item features (Table 5's TS-DNN uses 2..12)."""
    fusion: str = "none"
    """ID + modality fusion (Table 7): none | add | concat."""
    fusion_mlp_layers: int = 0
    """Dense layers after the fusion layer (Table 7's w/)."""
    adapter: str = "none"
    """Parameter-efficient adaptation, the pretrained weights frozen: none | lora (low-rank
    updates of encoder.lora_targets, through peft) | houlsby (bottleneck adapters after each
    attention and feed-forward block) | side (text: a side network over every layer's hidden
    state of the frozen encoder, computed once and cached on disk, so training never runs it)."""
    adapter_rank: int = 8
    """LoRA's rank r; the bottleneck width of the houlsby adapters and the side network's blocks."""
    lora_alpha: int = 16
    """LoRA's alpha: the low-rank update is scaled by lora_alpha / adapter_rank."""
    lora_targets: tuple[str, ...] = ()
    """Module names LoRA adapts (peft's target_modules, e.g. query,value); empty: the attention
    query and value projections of the architecture."""
    packed: bool = False
    """End-to-end text: the batch's distinct titles run as one token stream without padding
    (variable-length attention); the function of the padded path, without its padding work."""

    def __post_init__(self) -> None:
        _check_finite(self, "encoder")
        _check(self.finetune_layers >= -1, "encoder.finetune_layers", "must be -1, 0 or a positive k")
        _check(self.pooling in ("cls", "mean"), "encoder.pooling", "must be cls or mean")
        _check(self.mode in ("e2e", "two_stage"), "encoder.mode", "must be e2e or two_stage")
        _check(self.mlp_layers >= 0, "encoder.mlp_layers", "must be >= 0")
        _check(self.fusion in ("none", "add", "concat"), "encoder.fusion", "must be none, add or concat")
        _check(self.fusion_mlp_layers >= 0, "encoder.fusion_mlp_layers", "must be >= 0")
        _check(not (self.name == "id" and self.fusion != "none"), "encoder.fusion",
               "fusion combines an ID embedding with a modality encoder; pick a modality encoder")
        _check(self.adapter in ADAPTERS, "encoder.adapter", f"must be one of {', '.join(ADAPTERS)}")
        _check(self.adapter_rank >= 1, "encoder.adapter_rank", "must be >= 1")
        _check(self.lora_alpha > 0, "encoder.lora_alpha", "must be > 0")
        _check(not self.lora_targets or self.adapter == "lora", "encoder.lora_targets",
               "applies to encoder.adapter=lora only")
        if self.adapter != "none":
            _check(self.name in ("text", "vision"), "encoder.adapter",
                   f"adapts a pretrained text or vision network; encoder.name={self.name} has none")
            _check(self.adapter != "side" or self.name == "text", "encoder.adapter",
                   "side reads every transformer layer's hidden state: needs encoder.name=text")
            _check(self.mode == "e2e", "encoder.adapter",
                   "trains inside the encoder, which encoder.mode=two_stage replaces by frozen "
                   "features; use encoder.mode=e2e")
            _check(self.finetune_layers == -1, "encoder.finetune_layers",
                   "an adapter freezes the pretrained weights itself; leave it at -1")
        if self.packed:
            _check(self.name == "text" and self.mode == "e2e", "encoder.packed",
                   "packs the titles of end-to-end text: needs encoder.name=text, encoder.mode=e2e")
            _check(self.finetune_layers <= 0, "encoder.packed",
                   "the top-k path reads cached lower layers of padded titles; use "
                   "encoder.finetune_layers -1 or 0")
            _check(self.adapter != "side", "encoder.packed",
                   "the side network never runs the encoder in training: nothing to pack")


@dataclass(frozen=True, kw_only=True)
class BackboneConfig:
    name: str = "sasrec"
    """User encoder from the registry: sasrec | dssm."""
    embed_dim: int = 64
    """Model dimension d (paper: searched for IDRec, 512 for MoRec)."""
    num_blocks: int = 2
    """Transformer blocks (SASRec); paper: 2."""
    num_heads: int = 2
    """Attention heads (SASRec); paper: 2."""
    dropout: float = 0.1
    """Dropout everywhere in the backbone; paper: 0.1."""
    mlp_layers: int = 0
    """Hidden layers in each DSSM tower; paper: 0 was always best."""
    layer_norm: str = "post"
    """SASRec blocks (block=standard): post (LayerNorm after each residual sum and on the input
    sum, as RecBole's SASRec and the paper's code; the default) | pre (LayerNorm before each
    sublayer, final LayerNorm)."""
    block: str = "standard"
    """SASRec block: standard (fused biased Q/K/V, GELU feed-forward, LayerNorm per
    backbone.layer_norm) | paper (the paper code's block: post-LN with a LayerNorm on the input
    sum, bias-free Q/K/V and output projections, ReLU feed-forward, LayerNorm eps 1e-6,
    xavier-normal dense weights and zero biases)."""
    init: str = "xavier"
    """Initialisation of what is trained from scratch (backbone, ID embeddings, dense heads):
    xavier (xavier-normal embeddings as the paper's code, torch's defaults for dense layers) |
    normal (N(0, 0.02) weights and zero biases everywhere, as RecBole and BERT)."""

    def __post_init__(self) -> None:
        _check_finite(self, "backbone")
        _check(1 <= self.embed_dim <= MAX_EMBED_DIM, "backbone.embed_dim",
               f"must be in [1, {MAX_EMBED_DIM:,}], got {self.embed_dim:,}")
        _check(self.num_blocks >= 1, "backbone.num_blocks", "must be >= 1")
        _check(self.num_heads >= 1 and self.embed_dim % self.num_heads == 0, "backbone.num_heads",
               f"must divide backbone.embed_dim ({self.embed_dim})")
        _check(0.0 <= self.dropout < 1.0, "backbone.dropout", "must be in [0, 1)")
        _check(self.mlp_layers >= 0, "backbone.mlp_layers", "must be >= 0")
        _check(self.layer_norm in ("pre", "post"), "backbone.layer_norm", "must be pre or post")
        _check(self.block in ("standard", "paper"), "backbone.block", "must be standard or paper")
        _check(self.block != "paper" or self.layer_norm == "post", "backbone.layer_norm",
               "the paper's block is post-LN: backbone.block=paper needs backbone.layer_norm=post")
        _check(self.init in ("xavier", "normal"), "backbone.init", "must be xavier or normal")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    epochs: int = 50
    """Upper bound on epochs; early stopping usually ends sooner."""
    batch_size: int = 128
    """Sequences (SASRec) or pairs (DSSM) per step; paper: 128 IDRec / 64 MoRec for SASRec."""
    lr: float = 1e-3
    """Learning rate of everything but the pretrained encoder (the paper's gamma^R)."""
    weight_decay: float = 0.0
    """AdamW weight decay of everything but the pretrained encoder."""
    lr_encoder: float = 1e-4
    """Learning rate of the pretrained modality encoder (the paper's gamma^M)."""
    weight_decay_encoder: float = 0.0
    """AdamW weight decay of the pretrained modality encoder."""
    loss: str = "bce"
    """bce: one sampled negative per positive (the paper) | softmax: in-batch cross-entropy |
    full_softmax: cross-entropy over every item (RecBole's CE; ID or two-stage encoders only) |
    sampled_softmax: cross-entropy over the target and train.sampled_negatives uniform items."""
    sampled_negatives: int = 1024
    """Uniform negatives shared by a batch under loss=sampled_softmax."""
    patience: int = 5
    """Stop after this many evaluations without a better validation metric."""
    device: str = "auto"
    """auto (CUDA when present, else CPU) | cpu | cuda | cuda:N | mps."""
    precision: str = "auto"
    """auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16 | fp16."""
    seed: int = 42
    """Seed of initialisation, negative sampling and shuffling (excluded from spec_key);
    in [0, 2**32 - 1]."""
    grad_clip: float = 0.0
    """Clip the gradient norm to this value; 0 = off."""
    compile: bool = False
    """torch.compile the pretrained text or vision network (dynamic shapes), end to end only.
    For a GPU, where an eager E2E step waits on Python launching kernels: the first steps pay
    a minute or more of compilation. Not with top-k text fine-tuning (its step is cheap already)."""
    stop_on_collapse: bool = True
    """Stop a run as `collapsed` when the collapse rule holds (morec_core/run/collapse.py); false
    trains on to the end (patience or train.epochs), to measure the rule's errors offline by
    replaying it on the recorded curves (benchmarks/collapse_replay.py). Excluded from spec_key:
    it changes when a run stops, not what it computes."""

    def __post_init__(self) -> None:
        _check_finite(self, "train")
        _check(self.epochs >= 1, "train.epochs", "must be >= 1")
        _check(self.batch_size >= 1, "train.batch_size", "must be >= 1")
        _check(self.lr > 0, "train.lr", "must be > 0")
        _check(self.lr_encoder >= 0, "train.lr_encoder", "must be >= 0")
        _check(self.weight_decay >= 0 and self.weight_decay_encoder >= 0, "train.weight_decay",
               "must be >= 0")
        _check(self.loss in ("bce", "softmax", "full_softmax", "sampled_softmax"), "train.loss",
               "must be bce, softmax, full_softmax or sampled_softmax")
        _check(self.sampled_negatives >= 1, "train.sampled_negatives", "must be >= 1")
        _check(self.patience >= 1, "train.patience", "must be >= 1")
        _check(self.precision in ("auto", "fp32", "bf16", "fp16"), "train.precision",
               "must be auto, fp32, bf16 or fp16")
        _check(DEVICE_PATTERN.fullmatch(self.device) is not None, "train.device",
               f"must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        _check_seed(self.seed, "train.seed")
        _check(self.grad_clip >= 0, "train.grad_clip", "must be >= 0")


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    k: int = 10
    """Cut-off of HR@k and NDCG@k; paper: 10."""
    metric: str = "ndcg"
    """Validation metric that selects the best epoch and drives early stopping: hr | ndcg."""
    mask_history: bool = True
    """Exclude the user's own earlier items from the ranking (recorded with every result)."""
    batch_size: int = 1024
    """Users scored at once against all items."""
    ties: str = "expected"
    """Targets scored equal to other items: expected (the expected HR/NDCG under random
    tie-breaking, so constant scores score at random level) | optimistic (equal scores do not
    count, as in the paper's code) | pessimistic (they all rank above the target)."""

    def __post_init__(self) -> None:
        from morec_core.run.user_results import TIE_RULES

        _check_finite(self, "eval")
        # The upper bound, the catalogue size, is known once the data is: build.build_run.
        _check(self.k >= 1, "eval.k", "must be >= 1")
        _check(self.ties in TIE_RULES, "eval.ties", f"must be one of {', '.join(TIE_RULES)}")
        _check(self.metric in ("hr", "ndcg"), "eval.metric", "must be hr or ndcg")
        _check(self.batch_size >= 1, "eval.batch_size", "must be >= 1")

    @property
    def selection_metric(self) -> str:
        """Name under which the validation metric is recorded, e.g. ndcg@10."""
        return f"{self.metric}@{self.k}"


# Settings added after the first runs were recorded (see RunSpec.spec_key). Not eval.ties: runs
# recorded before it ranked ties optimistically, so their keys must differ from the new default.
HASHED_WHEN_SET: tuple[tuple[str, str], ...] = (
    *(("data", name) for name in (
        "split", "dedupe", "interactions_file", "items_file", "user_column", "item_column",
        "time_column", "text_columns", "image_column", "image_pattern")),
    ("backbone", "block"),
    *(("encoder", name) for name in ("adapter", "adapter_rank", "lora_alpha", "lora_targets")),
)


# Data settings that decide whether a run may start, never what it computes: out of the spec
# key and of the data identity that pairs runs in `morec compare`.
DATA_THRESHOLDS = ("min_text_coverage",)


def data_identity(data: dict[str, Any]) -> dict[str, Any]:
    """A recorded spec's data section without DATA_THRESHOLDS: equal for two runs on the same
    data whichever thresholds they were started under (or recorded before they existed)."""
    return {key: value for key, value in data.items() if key not in DATA_THRESHOLDS}


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        # A full softmax runs the whole catalogue through the item tower at every step: cheap
        # for an ID table or cached features, an epoch per step for an end-to-end encoder.
        _check(self.train.loss != "full_softmax" or self.encoder.name == "id"
               or self.encoder.mode == "two_stage", "train.loss",
               "full_softmax needs encoder.name=id or encoder.mode=two_stage (it encodes every "
               "item at every step)")
        _check(not self.train.compile or self.compilable, "train.compile",
               "needs encoder.name=text or vision with encoder.mode=e2e (and, for text, "
               "encoder.finetune_layers -1 or 0)")
        _check(not self.train.compile or self.encoder.adapter != "side", "train.compile",
               "encoder.adapter=side runs no pretrained network in training: nothing to compile")

    @property
    def compilable(self) -> bool:
        """Whether train.compile applies: a pretrained network that runs at every step. Not the
        top-k text path, which swaps the network's modules at every step (each swap would
        recompile it)."""
        encoder = self.encoder
        return (encoder.name in ("text", "vision") and encoder.mode == "e2e"
                and not (encoder.name == "text" and encoder.finetune_layers > 0))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunSpec:
        """Build a spec from nested dicts; missing keys take defaults, unknown keys are errors."""
        if not isinstance(raw, dict):
            raise ConfigError(f"spec: expected a mapping of sections, got {type(raw).__name__}")
        sections = _section_types()
        unknown = sorted(set(raw) - set(sections))
        if unknown:
            raise ConfigError(f"unknown section {unknown[0]!r}; known: {', '.join(sections)}")
        built: dict[str, Any] = {name: build_section(section_type, raw.get(name, {}), name)
                                 for name, section_type in sections.items()}
        return cls(**built)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls.from_dict(json.loads(text))

    def with_overrides(self, overrides: list[str] | tuple[str, ...]) -> RunSpec:
        """Apply `section.key=value` strings, each parsed against the field's type."""
        raw = self.to_dict()
        sections = _section_types()
        for text in overrides:
            dotted, sep, value = text.partition("=")
            section, dot, key = dotted.strip().partition(".")
            if not sep or not dot or not key:
                raise ConfigError(f"override {text!r}: expected section.key=value")
            if section not in sections:
                raise ConfigError(f"override {text!r}: unknown section {section!r}; "
                                  f"known: {', '.join(sections)}")
            hints = field_types(sections[section])
            if key not in hints:
                raise ConfigError(f"override {text!r}: unknown key {section}.{key}; "
                                  f"known: {', '.join(hints)}")
            raw[section][key] = parse_value(value.strip(), hints[key], f"{section}.{key}")
        return RunSpec.from_dict(raw)

    @property
    def spec_key(self) -> str:
        """Hash of the spec without the seed, train.compile, train.stop_on_collapse,
        data.min_text_coverage and encoder.packed: runs with equal keys differ only by seed (and
        by whether the network ran compiled, or on packed titles, which compute the same
        function, or whether the collapse rule or the content check could stop them), so their
        results are pooled as one configuration's."""
        raw = self.to_dict()
        del raw["train"]["seed"]
        del raw["train"]["compile"]
        del raw["train"]["stop_on_collapse"]
        del raw["encoder"]["packed"]
        for name in DATA_THRESHOLDS:
            del raw["data"][name]
        # Settings added after runs were recorded are left out of the hash at their default,
        # so the keys of those runs stay valid (they ran with what is now the default).
        defaults = RunSpec().to_dict()
        for section, name in HASHED_WHEN_SET:
            if raw[section][name] == defaults[section][name]:
                del raw[section][name]
        return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def seed(self) -> int:
        return self.train.seed


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{key}: {message}")


def _check_finite(section: object, name: str) -> None:
    """Reject inf and nan in every float field of `section`, before the per-field checks: inf
    passes `lr > 0`, and nan fails every bound with a message about the wrong bound."""
    for key, hint in field_types(type(section)).items():
        value = getattr(section, key)
        _check(hint is not float or math.isfinite(value), f"{name}.{key}",
               f"must be a finite number, got {value}")


def _check_seed(seed: int, key: str) -> None:
    _check(0 <= seed <= MAX_SEED, key, f"must be in [0, 2**32 - 1], got {seed}")


def _section_types() -> dict[str, type]:
    return {f.name: field_types(RunSpec)[f.name] for f in dataclasses.fields(RunSpec)}
