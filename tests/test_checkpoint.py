import errno
import os
import random
import zipfile

import numpy as np
import pytest
import torch

from morec_core.run import checkpoint
from morec_core.run.checkpoint import CheckpointError


def trained_payload():
    """What train.py writes to last.pt after one step: model, AdamW and scaler state, RNG."""
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.AdamW([{"params": model.parameters(), "name": "rest"}], lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(), "rng": checkpoint.rng_states(), "epoch": 2,
            "best": {"epoch": None, "value": -float("inf"), "evaluations_without_gain": 1},
            "epoch_seconds": [1.5, 2.5]}


def draws():
    return (random.random(), np.random.random(), np.random.normal(), torch.rand(3).tolist())


def test_a_checkpoint_loads_with_the_safe_unpickler_and_restores_every_stream(tmp_path):
    path = tmp_path / "last.pt"
    np.random.normal()  # numpy's cached second Gaussian is part of its state
    checkpoint.save_atomic(trained_payload(), path)
    expected = draws()
    state = checkpoint.load(path, required=["model", "optimizer", "rng"])
    assert state["epoch"] == 2 and state["best"]["value"] == -float("inf")
    assert state["optimizer"]["param_groups"][0]["name"] == "rest"
    checkpoint.restore_rng_states(state["rng"])
    assert draws() == expected
    # What the file refers to beyond tensors and plain types: nothing.
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    assert not path.with_name("last.pt.tmp").exists()


def test_an_older_checkpoint_needing_the_unsafe_unpickler_is_refused(tmp_path):
    path = tmp_path / "last.pt"
    torch.save({"rng": {"numpy": np.random.get_state()}}, path)  # what morec wrote before
    with pytest.raises(CheckpointError) as raised:
        checkpoint.load(path)
    message = str(raised.value)
    assert str(path) in message and "older morec" in message and "numpy" in message
    assert "\n" not in message


class _Crafted:
    """Pickles as a call of os.mkdir: loading it unsafely would make the folder."""

    def __init__(self, folder):
        self.folder = folder

    def __reduce__(self):
        return os.mkdir, (str(self.folder),)


def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    path, proof = tmp_path / "last.pt", tmp_path / "code-ran"
    torch.save({"model": _Crafted(proof)}, path)
    with pytest.raises(CheckpointError, match="not a morec checkpoint"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError):
        checkpoint.load_weights(path)
    assert not proof.exists()


@pytest.mark.parametrize("damage", ["truncated", "empty", "random bytes", "flipped tensor byte"])
def test_a_truncated_or_corrupt_checkpoint_is_a_checkpoint_error(tmp_path, damage):
    path = tmp_path / "last.pt"
    checkpoint.save_atomic(trained_payload(), path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = bytearray()
    elif damage == "random bytes":
        data = bytearray(np.random.default_rng(0).bytes(len(data)))
    else:
        # torch itself reads a damaged tensor record without a word; the zip checksum does not.
        with zipfile.ZipFile(path) as archive:
            record = next(info for info in archive.infolist() if "/data/" in info.filename)
        # The local header's name and extra lengths (torch pads the extra field to align data).
        header = record.header_offset
        name_length, extra_length = (int.from_bytes(data[header + offset:header + offset + 2],
                                                    "little") for offset in (26, 28))
        data[header + 30 + name_length + extra_length] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as raised:
        checkpoint.load(path)
    message = str(raised.value)
    assert str(path) in message and ("truncated" in message or "corrupt" in message)
    assert "\n" not in message


def test_a_checkpoint_without_the_resume_keys_is_refused(tmp_path):
    path = tmp_path / "best.pt"
    checkpoint.save_atomic({"model": {}, "epoch": 0}, path)
    assert checkpoint.load_weights(path)["epoch"] == 0
    with pytest.raises(CheckpointError, match="not a morec checkpoint .no optimizer, rng"):
        checkpoint.load(path, required=["model", "optimizer", "rng"])


def test_a_full_disk_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save_atomic({"epoch": 1}, path)

    def half_then_full(payload, target):
        with open(target, "wb") as handle:
            handle.write(b"PK" + b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", half_then_full)
    with pytest.raises(OSError) as raised:
        checkpoint.save_atomic({"epoch": 2}, path)
    assert raised.value.errno == errno.ENOSPC
    assert sorted(file.name for file in tmp_path.iterdir()) == ["last.pt"]
    monkeypatch.undo()
    assert checkpoint.load(path)["epoch"] == 1


def test_the_file_is_on_disk_before_it_is_renamed(tmp_path, monkeypatch):
    path, calls = tmp_path / "last.pt", []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source, target):
        calls.append(("replace", str(source)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    checkpoint.save_atomic({"epoch": 1}, path)
    temporary = str(path.with_name("last.pt.tmp"))
    assert calls == [("fsync", temporary), ("replace", temporary)]
