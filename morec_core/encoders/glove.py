"""The shallow text baseline: an item is the mean GloVe vector of its title's words.

Titles are lower-cased and split into word tokens (runs of letters and digits; punctuation is
dropped); words outside the vocabulary are skipped, and a title with no known word is the zero
vector. Only the vectors of words that occur in some title are kept, in a small embedding table
(row 0 is the zero padding row), so fine-tuning them is the same as fine-tuning the full table.

`config.model` is the packaged "glove-6b-50d" (default) or a local folder holding
`vectors.npy` (V, D) and `vocab.txt` (V words, one a line, in the same order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from morec_core.config import EncoderConfig
from morec_core.encoder_catalog import default_model
from morec_core.encoders import packaged
from morec_core.encoders.base import EncoderInputs

DEFAULT_MODEL = default_model("glove")
_WORD = re.compile(r"[^\W_]+")


def words(title: str) -> list[str]:
    """Lower-cased word tokens of a title."""
    return _WORD.findall(title.lower())


class GloveFeatures(nn.Module):
    """Mean word vector of each title: item_ids (N,) -> (N, D)."""

    word_table: torch.Tensor  # buffers, registered in __init__
    word_counts: torch.Tensor

    def __init__(self, vectors: np.ndarray, vocabulary: Mapping[str, int],
                 titles: Sequence[str], *, trainable: bool) -> None:
        """vectors: (V, D), may be a memory map (only the rows of words in titles are read);
        vocabulary: word -> row of vectors; titles: one per item 0..num_items."""
        super().__init__()
        word_rows = [[vocabulary[w] for w in words(title) if w in vocabulary] for title in titles]
        used = np.unique(np.fromiter((row for rows in word_rows for row in rows), np.int64))
        compact = {int(row): index + 1 for index, row in enumerate(used)}  # 0 is padding
        width = max((len(rows) for rows in word_rows), default=0)
        table = np.zeros((len(titles), max(width, 1)), np.int64)  # (num_items + 1, W)
        for item, rows in enumerate(word_rows):
            table[item, :len(rows)] = [compact[row] for row in rows]
        self.register_buffer("word_table", torch.from_numpy(table), persistent=False)
        self.register_buffer("word_counts", torch.from_numpy((table > 0).sum(1)),
                             persistent=False)  # (num_items + 1,)
        dim = int(vectors.shape[1])
        weight = np.zeros((len(used) + 1, dim), np.float32)
        if len(used):
            weight[1:] = np.asarray(vectors[used], np.float32)
        self.embedding = nn.Embedding.from_pretrained(torch.from_numpy(weight), freeze=not trainable,
                                                      padding_idx=0)
        self.feature_dim = dim

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        weight = self.embedding.weight
        return {"encoder": [weight] if weight.requires_grad else []}

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        counts = self.word_counts[item_ids]  # (N,)
        width = max(int(counts.max()), 1) if counts.numel() else 1
        vectors = self.embedding(self.word_table[item_ids, :width])  # (N, W, D); padding = 0
        return vectors.sum(1) / counts.clamp(min=1).unsqueeze(1).to(vectors.dtype)


def load_word_vectors(model: str) -> tuple[np.ndarray, dict[str, int]]:
    """(vectors (V, D) memory map, word -> row) of a packaged name or a local folder."""
    model = model or DEFAULT_MODEL
    if model in packaged.WORD_VECTORS:
        vectors_path, words_path = packaged.WORD_VECTORS[model]()
        try:
            import pyarrow.parquet as parquet
        except ImportError:
            raise ImportError(f"reading the word list of {model} needs pyarrow: "
                              "pip install pyarrow") from None
        word_list = parquet.read_table(words_path, columns=["index"]).column(0).to_pylist()
    else:
        folder = Path(model).expanduser()
        vectors_path, words_path = folder / "vectors.npy", folder / "vocab.txt"
        if not vectors_path.is_file() or not words_path.is_file():
            raise ValueError(f"glove model {model!r} is neither a packaged model "
                             f"({', '.join(packaged.WORD_VECTORS)}) nor a folder with "
                             "vectors.npy and vocab.txt")
        word_list = words_path.read_text(encoding="utf-8").splitlines()
    vectors = np.load(vectors_path, mmap_mode="r")
    if vectors.ndim != 2 or vectors.shape[0] != len(word_list):
        raise ValueError(f"{vectors_path}: {vectors.shape} vectors for {len(word_list)} words")
    # The first occurrence of a word wins, as in GloVe's own text format.
    vocabulary: dict[str, int] = {}
    for row, word in enumerate(word_list):
        vocabulary.setdefault(word, row)
    return vectors, vocabulary


def build_glove_encoder(config: EncoderConfig, inputs: EncoderInputs) -> GloveFeatures:
    """The feature module of encoder "glove": finetune_layers 0 freezes the word vectors, any
    other value trains them."""
    if inputs.titles is None:
        raise ValueError("the glove encoder needs EncoderInputs.titles")
    if len(inputs.titles) != inputs.num_items + 1:
        raise ValueError(f"{len(inputs.titles)} titles, expected num_items + 1 = "
                         f"{inputs.num_items + 1} (row 0 is the padding item)")
    vectors, vocabulary = load_word_vectors(config.model)
    features = GloveFeatures(vectors, vocabulary, inputs.titles,
                             trainable=config.finetune_layers != 0)
    if not config.pretrained:
        # Table 4's "trained from scratch": the same words, nn.Embedding's default N(0, 1) init.
        with torch.no_grad():
            features.embedding.weight[1:].normal_()
    return features
