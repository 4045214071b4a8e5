"""Checkpoints that let a killed run continue exactly: model, optimizer, scaler, RNG states.

Written to a temporary name and renamed, so a kill during the write never leaves a torn file.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def load_weights(path: Path) -> dict[str, Any]:
    """A best.pt ({"model": state dict, "epoch": int}): tensors and plain types only, so a
    crafted file cannot run code (torch's weights_only unpickler)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load(path: Path) -> dict[str, Any]:
    # Our own files: they hold optimizer state and RNG tuples, not only tensors.
    return torch.load(path, map_location="cpu", weights_only=False)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
