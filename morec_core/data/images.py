"""Item images decoded and resized once into a memory-mapped uint8 array.

Vision encoders then read `images[item_ids]` (a page-cache hit after the first epoch) instead
of decoding JPEGs in the training loop. Images are squashed to S x S (aspect ratio not kept),
as the paper's 224 x 224 preprocessing does.

The file is `<cache_dir>/images-<S>-<key>.npy` (a plain .npy, so `np.load(mmap_mode="r")`
opens it), the key hashing S and each listed path with its size and modification time: editing,
adding or removing an image makes a new file. An item without an image ('') is a zero row; a
listed path that is missing, a dangling symbolic link, a folder, or cannot be decoded is an
error naming the file, and no cache file is left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat as file_types
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from morec_core.data.atomic import atomic_file
from morec_core.data.errors import DataError, excerpt

CHUNK = 256


def image_cache_key(image_paths: Sequence[str], *, size: int) -> str:
    states: list[object] = [size, len(image_paths)]
    for path in image_paths:
        if not path:
            states.append("")
            continue
        try:
            stat = Path(path).stat()
        except FileNotFoundError:
            if os.path.islink(path):
                target = excerpt(os.readlink(path))
                raise DataError(f"dangling symbolic link (to {target})", path=path) from None
            raise DataError("missing image file", path=path) from None
        except OSError as error:
            raise DataError(f"cannot read image ({error.strerror})", path=path) from None
        if not file_types.S_ISREG(stat.st_mode):
            folder = file_types.S_ISDIR(stat.st_mode)
            raise DataError("is a folder, not an image file" if folder else
                            "is not a regular file", path=path)
        states.append([path, stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(states).encode()).hexdigest()[:20]


def load_image(path: str, size: int) -> np.ndarray:
    """(size, size, 3) uint8 RGB, squashed."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            # JPEG only: decode at a reduced scale that is still >= size (much faster for
            # H&M's 1,750-pixel photos); the resize below does the rest.
            image.draft("RGB", (size, size))
            resized = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot read image ({type(error).__name__}: {error})", path=path) from None
    return np.asarray(resized, dtype=np.uint8)


def image_cache(image_paths: Sequence[str], *, size: int, cache_dir: Path, workers: int = 2,
                progress: bool = True) -> np.memmap:
    """(len(image_paths), size, size, 3) uint8 read-only memory map of the images of items
    0..num_items (ItemContent.image_paths; row 0, the padding item, has '' and stays zero)."""
    from tqdm.auto import tqdm

    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    path = Path(cache_dir) / f"images-{size}-{image_cache_key(image_paths, size=size)}.npy"
    if not path.is_file():
        listed = [row for row, image in enumerate(image_paths) if image]
        with atomic_file(path) as temporary:
            array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8,
                                              shape=(len(image_paths), size, size, 3))
            # PIL releases the GIL while decoding, so threads use both cores.
            with ThreadPoolExecutor(max_workers=workers) as pool, \
                    tqdm(total=len(listed), desc=f"images {size}px", unit="img",
                         disable=not progress) as bar:
                for start in range(0, len(listed), CHUNK):
                    rows = listed[start:start + CHUNK]
                    decoded = pool.map(lambda row: load_image(image_paths[row], size), rows)
                    for row, pixels in zip(rows, decoded, strict=True):
                        array[row] = pixels
                    bar.update(len(rows))
            array.flush()
            del array
    return np.load(path, mmap_mode="r")
