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
import re
import stat as file_types
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from morec_core.data.atomic import atomic_file
from morec_core.data.errors import DataError, excerpt

CHUNK = 256
SHOWN_PROBLEMS = 3
"""How many unreadable images one error names (it counts the rest)."""


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
    """(size, size, 3) uint8 RGB, squashed. A file PIL cannot use is a DataError naming the file
    and the reason in a few words (`image_problem`)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that; no item image is that
            # large, so a picture of hundreds of megapixels is refused before it is decoded.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                # JPEG only: decode at a reduced scale that is still >= size (much faster for
                # H&M's 1,750-pixel photos); the resize below does the rest.
                image.draft("RGB", (size, size))
                resized = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as error:
        raise DataError(image_problem(error), path=path) from None
    return np.asarray(resized, dtype=np.uint8)


def image_problem(error: Exception) -> str:
    """What is wrong with an image file, in a few words and without its path (the message names
    the file once): not an image, truncated, a decompression bomb, or PIL's own reason."""
    from PIL import Image, UnidentifiedImageError

    text = " ".join(str(error).split())
    if isinstance(error, UnidentifiedImageError):
        return "not an image PIL can read (unknown or damaged format)"
    if isinstance(error, Image.DecompressionBombError | Image.DecompressionBombWarning):
        pixels = re.search(r"\((\d+) pixels\)", text)
        size = f" ({int(pixels.group(1)):,} pixels)" if pixels else ""
        return f"too large to decode safely{size}: a decompression bomb?"
    if "truncated" in text.lower():
        return f"truncated image file ({text})"
    return f"cannot read image ({type(error).__name__}: {text})"


def image_cache(image_paths: Sequence[str], *, size: int, cache_dir: Path, workers: int = 2,
                progress: bool = True) -> np.memmap:
    """(len(image_paths), size, size, 3) uint8 read-only memory map of the images of items
    0..num_items (ItemContent.image_paths; row 0, the padding item, has '' and stays zero)."""
    from morec_core.data.progress import progress_bar

    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    path = Path(cache_dir) / f"images-{size}-{image_cache_key(image_paths, size=size)}.npy"
    if not path.is_file():
        listed = [row for row, image in enumerate(image_paths) if image]
        with atomic_file(path) as temporary:
            array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8,
                                              shape=(len(image_paths), size, size, 3))
            problems: list[ImageProblem] = []
            # PIL releases the GIL while decoding, so threads use both cores.
            with ThreadPoolExecutor(max_workers=workers) as pool, \
                    progress_bar(total=len(listed), desc=f"images {size}px", unit="img",
                                 enabled=progress, leave=False) as bar:
                for start in range(0, len(listed), CHUNK):
                    rows = listed[start:start + CHUNK]
                    decoded = pool.map(lambda row: _decoded(image_paths[row], size), rows)
                    for row, pixels in zip(rows, decoded, strict=True):
                        if isinstance(pixels, ImageProblem):
                            problems.append(pixels)
                        else:
                            array[row] = pixels
                    bar.update(len(rows))
            array.flush()
            del array
            if problems:  # every unreadable file in one line, not one run per file found
                raise _unreadable(problems, len(listed))
    return np.load(path, mmap_mode="r")


def _decoded(path: str, size: int) -> np.ndarray | ImageProblem:
    """The image, or what is wrong with it (so one bad file does not hide the others)."""
    try:
        return load_image(path, size)
    except DataError as error:
        return ImageProblem(path, error.reason)


@dataclass(frozen=True)
class ImageProblem:
    path: str
    reason: str


def _unreadable(problems: list[ImageProblem], listed: int) -> DataError:
    """One error for every unreadable image: the first few named (relative to the folder they
    share) with their reason, the rest counted."""
    paths = [problem.path for problem in problems]
    folder = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0])
    shown = "; ".join(f"{os.path.relpath(problem.path, folder) if folder else problem.path} "
                      f"({problem.reason})" for problem in problems[:SHOWN_PROBLEMS])
    more = len(problems) - SHOWN_PROBLEMS
    rest = f"; and {more:,} more" if more > 0 else ""
    where = f" in {folder}" if folder else ""
    return DataError(f"{len(problems):,} of {listed:,} item images cannot be read{where}: "
                     f"{shown}{rest}")
