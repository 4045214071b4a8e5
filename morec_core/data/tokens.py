"""Titles tokenized once per (tokenizer, max_tokens, titles) and kept in a cache file.

Text encoders then index `ids[item_ids]` inside the training loop instead of tokenizing: with
MIND's 80K titles re-tokenized every batch, tokenization would cost more than the model.

The file is `<cache_dir>/tokens-<key>.npz`, with the key hashing the tokenizer's class,
name_or_path, size and vocabulary, `max_tokens`, and the titles themselves; any change makes a
new file, an unchanged input reuses the old one.

The padding item (row 0, empty title) and any empty title are tokenized like the empty string:
for BERT-like tokenizers that is `[CLS] [SEP]`, length 2. Encoders thus never get an empty
sequence (a fully masked attention row gives NaN). A tokenizer that adds no special tokens would
give length 0; such rows get length 1 (one pad token) for the same reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from morec_core.data.atomic import atomic_file

BATCH = 4096


@dataclass(frozen=True, kw_only=True)
class TokenCache:
    ids: np.ndarray
    """(num_items + 1, T) int32 token ids, right-padded with the tokenizer's pad_token_id."""
    lengths: np.ndarray
    """(num_items + 1,) int32 real tokens per row (special tokens included), >= 1."""
    path: Path
    """The cache file."""


def token_cache_key(titles: Sequence[str], tokenizer: Any, *, max_tokens: int) -> str:
    digest = hashlib.sha256()
    vocabulary = sorted(tokenizer.get_vocab().items())
    header = [type(tokenizer).__name__, str(tokenizer.name_or_path), len(tokenizer), max_tokens,
              len(titles)]
    digest.update(json.dumps(header).encode())
    digest.update(json.dumps(vocabulary, ensure_ascii=False).encode())
    for title in titles:
        digest.update(title.encode("utf-8", errors="surrogatepass") + b"\0")
    return digest.hexdigest()[:20]


def tokenize(titles: Sequence[str], tokenizer: Any, *, max_tokens: int,
             progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(len(titles), max_tokens) int32 ids and (len(titles),) int32 lengths."""
    from morec_core.data.progress import progress_bar

    pad = tokenizer.pad_token_id
    if pad is None:
        raise ValueError(f"tokenizer {tokenizer.name_or_path!r} has no pad token; "
                         "set tokenizer.pad_token before building the cache")
    ids = np.full((len(titles), max_tokens), pad, dtype=np.int32)
    lengths = np.zeros(len(titles), dtype=np.int32)
    for start in progress_bar(range(0, len(titles), BATCH), desc="tokenizing titles",
                              unit="batch", enabled=progress):
        batch = [str(title) for title in titles[start:start + BATCH]]
        encoded = tokenizer(batch, truncation=True, max_length=max_tokens, padding=False,
                            add_special_tokens=True)
        for row, token_ids in enumerate(encoded["input_ids"], start=start):
            ids[row, :len(token_ids)] = token_ids
            lengths[row] = len(token_ids)
    np.maximum(lengths, 1, out=lengths)
    return ids, lengths


def token_cache(titles: Sequence[str], tokenizer: Any, *, max_tokens: int, cache_dir: Path,
                progress: bool = True) -> TokenCache:
    """Token ids of `titles` (ItemContent.titles: items 0..num_items, row 0 the padding item),
    from `cache_dir` when this exact input was tokenized before.

    `tokenizer` is a Hugging Face tokenizer (fast or slow): called on a list of strings, with
    `pad_token_id`, `name_or_path`, `get_vocab()` and `len()`.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    key = token_cache_key(titles, tokenizer, max_tokens=max_tokens)
    path = Path(cache_dir) / f"tokens-{key}.npz"
    if not path.is_file():
        ids, lengths = tokenize(titles, tokenizer, max_tokens=max_tokens, progress=progress)
        with atomic_file(path) as temporary, temporary.open("wb") as handle:
            np.savez(handle, ids=ids, lengths=lengths)
    with np.load(path) as stored:
        return TokenCache(ids=stored["ids"], lengths=stored["lengths"], path=path)
