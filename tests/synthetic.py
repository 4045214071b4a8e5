"""Small datasets the tests write themselves, in the `pairs` format (user<TAB>item item ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_chain_dataset(folder: Path, *, users: int = 150, items: int = 60, length: int = 12,
                        seed: int = 0) -> Path:
    """Users walk a fixed random cycle through the catalogue from random starts, with 10% noise,
    so the next item is predictable from the last: a model that learns beats random ranking.
    Titles share a word with their successor, so text encoders see the structure too."""
    rng = np.random.default_rng(seed)
    cycle = rng.permutation(items) + 1
    position_of = {int(item): position for position, item in enumerate(cycle)}
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for user in range(users):
        start = int(rng.integers(items))
        sequence = [int(cycle[(start + step) % items]) for step in range(length)]
        for step in range(length):
            if rng.random() < 0.1:
                sequence[step] = int(rng.integers(1, items + 1))
        # No repeated item within a user: the paper drops repeated interactions.
        seen, unique = set(), []
        for item in sequence:
            if item not in seen:
                seen.add(item)
                unique.append(item)
        lines.append(f"u{user}\t" + " ".join(f"i{item}" for item in unique))
    (folder / "tiny_users.tsv").write_text("\n".join(lines) + "\n")
    titles = [f"i{item},word{position_of[item]} word{(position_of[item] + 1) % items} film"
              for item in range(1, items + 1)]
    (folder / "tiny_items.csv").write_text("item,title\n" + "\n".join(titles) + "\n")
    return folder
