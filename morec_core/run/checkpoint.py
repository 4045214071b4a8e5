"""Checkpoints that let a killed run continue exactly: model, optimizer, scaler, RNG states.

Written to a temporary name, flushed to disk and renamed, so a kill or a crash during the write
never leaves a torn or empty file under the real name. They hold tensors and plain types only and
are read with torch's weights_only unpickler: a crafted `last.pt` cannot run code on `--resume`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from morec_core.regular_files import NotARegularFile, open_regular
from morec_core.run.faults import pause_point


class CheckpointError(ValueError):
    """A checkpoint morec will not load: truncated, corrupt, not morec's, or written by an older
    morec (whose files need the unpickler that can run code)."""


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, temporary)
        # On disk before the rename, or a crash can leave the new name on an empty file (file
        # systems may commit the rename before the data). The folder is not synced: a rename
        # lost in a crash leaves the previous checkpoint, whole, and the run resumes from it.
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        pause_point("checkpoint-write")
        os.replace(temporary, path)
    except BaseException:
        # A full disk (or Ctrl-C) must not leave a partial file taking the space that is left.
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


def rng_states() -> dict[str, Any]:
    """Every random stream's state, as tensors and plain types (numpy's keys as a list)."""
    # {"bit_generator": "MT19937", "state": {"key": (624,) uint32, "pos"}, "has_gauss", "gauss"}
    numpy = np.random.get_state(legacy=False)
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {**numpy, "state": {"key": numpy["state"]["key"].tolist(),
                                     "pos": int(numpy["state"]["pos"])}},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    numpy = states["numpy"]
    np.random.set_state({**numpy, "state": {
        "key": np.asarray(numpy["state"]["key"], dtype=np.uint32), "pos": numpy["state"]["pos"]}})
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def load_weights(path: Path) -> dict[str, Any]:
    """A best.pt ({"model": state dict, "epoch": int}), checked as `load` checks a last.pt."""
    return load(path, required=("model",))


def load(path: Path, *, required: Iterable[str] = ()) -> dict[str, Any]:
    """A checkpoint `save_atomic` wrote, holding the `required` keys.

    Tensors and plain types only (torch's weights_only unpickler), so a crafted file cannot run
    code; never loaded otherwise. Raises CheckpointError, one line naming the file.
    """
    _check_regular_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            # torch checks no checksum itself: a flipped byte in a tensor loads as a wrong weight.
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt (not a whole zip "
                              f"archive: {error})") from None
    if damaged is not None:
        raise CheckpointError(f"checkpoint {path} is corrupt ({damaged} fails its checksum)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Its checksums hold, so the pickle is whole: it refers to more than tensors and plain
        # types (an older morec pickled numpy's RNG state), or is no checkpoint of ours.
        raise CheckpointError(f"checkpoint {path} holds more than tensors and plain types"
                              f"{_unsafe_globals(path)}: it was written by an older morec or is "
                              "not a morec checkpoint, and is not loaded, as unpickling it could "
                              "run code") from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt ({detail[:200]})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} is not a morec checkpoint (a "
                              f"{type(state).__name__}, not a dict)")
    missing = [key for key in required if key not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} is not a morec checkpoint (no "
                              f"{', '.join(missing)})")
    return state


def _check_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before opening it: a FIFO would block the open for
    ever, a link to /dev/zero or a terminal would be read until memory runs out."""
    try:
        with open_regular(path):
            pass
    except NotARegularFile as error:
        raise CheckpointError(f"checkpoint {error}") from None
    except OSError as error:
        raise CheckpointError(f"checkpoint {path} cannot be read ({error.strerror})") from None


def _unsafe_globals(path: Path) -> str:
    """What the file refers to beyond tensors and plain types, as " (numpy.ndarray, ...)";
    found by reading the pickle's opcodes, never by running them."""
    # torch >= 2.5; the message stands without the names.
    find = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if find is None:
        return ""
    try:
        names = find(path)
    except (pickle.UnpicklingError, RuntimeError, ValueError):
        return ""
    return f" ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})" if names else ""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
