"""Finding item images on disk without one `stat` per item: each folder is listed once."""

from __future__ import annotations

import os
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def list_images(folder: Path) -> dict[str, str]:
    """Map file stem -> absolute path of every image directly inside `folder`.

    A stem present with several suffixes resolves to the first in IMAGE_SUFFIXES order, so the
    result does not depend on the order the file system lists entries in. An entry named like
    an image that is not one (a dangling symbolic link, a folder) is listed all the same: the
    image cache then names it, as it names any listed image it cannot read, instead of the
    item quietly losing its image.
    """
    found: dict[str, str] = {}
    if not folder.is_dir():
        return found
    rank = {suffix: position for position, suffix in enumerate(IMAGE_SUFFIXES)}
    best: dict[str, int] = {}
    root = folder.resolve()
    with os.scandir(root) as entries:
        for entry in entries:
            stem, suffix = os.path.splitext(entry.name)
            position = rank.get(suffix.lower())
            if position is None:
                continue
            if stem not in best or position < best[stem]:
                best[stem] = position
                found[stem] = str(root / entry.name)
    return found
