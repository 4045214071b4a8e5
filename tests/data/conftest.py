"""Fixtures for the data tests: every dataset here is written by the test itself."""

from __future__ import annotations

from pathlib import Path

import pytest

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "red", "blue", "cat", "dog",
         "a", "movie", "news", "##s", "big", "small", ",", ".", ":"]


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty MOREC_DATA_DIR, so prepared folders and caches land in tmp_path."""
    root = tmp_path / "morec-data"
    monkeypatch.setenv("MOREC_DATA_DIR", str(root))
    return root


@pytest.fixture
def tokenizer(tmp_path: Path):
    """A BERT WordPiece tokenizer on a 19-token vocabulary: offline, no hub download."""
    from transformers import BertTokenizerFast

    vocab = tmp_path / "vocab" / "vocab.txt"
    vocab.parent.mkdir()
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    # transformers 5 takes the vocabulary as `vocab` (it ignores a `vocab_file` keyword).
    built = BertTokenizerFast(vocab=str(vocab), do_lower_case=True)
    assert len(built) == len(VOCAB)
    return built


def _write_pairs(folder: Path, sequences: dict[str, list[str]],
                 titles: dict[str, str] | None = None) -> Path:
    """A `pairs` folder: data_users.tsv and, when titles are given, data_items.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{user}\t{' '.join(items)}" for user, items in sequences.items()]
    (folder / "data_users.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if titles is not None:
        rows = ["item,title"] + [f'{item},"{title}"' for item, title in titles.items()]
        (folder / "data_items.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def write_pairs():
    """write_pairs(folder, {user: [item, ...]}, {item: title}) -> folder, in the pairs layout."""
    return _write_pairs
