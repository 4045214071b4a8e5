"""Device and precision choice: CPU when there is no GPU, bf16 autocast on CUDA by default."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Placement:
    device: torch.device
    autocast_dtype: torch.dtype | None
    """None runs in fp32; bf16 needs no loss scaling, fp16 does (see `needs_scaler`)."""

    @property
    def needs_scaler(self) -> bool:
        return self.autocast_dtype is torch.float16

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.autocast_dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype):
            yield

    def describe(self) -> str:
        name = str(self.device)
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.autocast_dtype]
        return f"{name}, {precision}"


def place(device: str, precision: str) -> Placement:
    """Resolve `train.device` and `train.precision` (both may be "auto")."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"train.device={device}: CUDA is not available on this machine")
    if precision == "auto":
        precision = "bf16" if resolved.type == "cuda" else "fp32"
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if dtype is torch.float16 and resolved.type != "cuda":
        raise RuntimeError("train.precision=fp16 needs a CUDA device; use bf16 or fp32 on CPU")
    return Placement(device=resolved, autocast_dtype=dtype)
