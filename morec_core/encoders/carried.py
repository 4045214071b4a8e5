"""A packaged text model carried without its package: half-precision weights in a folder.

An accelerator machine here reaches no package registry and receives at most 64 MiB of files,
so MiniLM-L6's 91 MB of fp32 weights cannot travel as its package. `export_half` writes the
verified weights as fp16 safetensors (45 MB) with the config and tokenizer files; on the other
machine, `$MOREC_MODELS_DIR/<name>/` is used when the package is absent. The fp16 tensors are
checked against a digest pinned here (the digest of the pinned fp32 release rounded to fp16, so a
carried folder cannot be swapped either), then widened back to fp32 once into
`data_dir()/models/<name>-from-fp16/`. The weights then differ from the release by fp16 rounding
(relative 5e-4 at most); results trained from them say so through this module's docstring and
the report's notes, not through the spec (the function is the same model's).

    python -m morec_core.encoders.carried export minilm-l6 FOLDER
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from morec_core import paths
from morec_core.data.atomic import atomic_directory

MODELS_DIR_ENV = "MOREC_MODELS_DIR"
SMALL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt")
HALF_DIGESTS = {
    "minilm-l6": "4298bc0fd19afb0b2936fc0405088adf27318615cd304f846efad2685df5e26f",
}
"""Content digest (tensor_digest) of each model's fp16 weights, from the pinned release."""


class CarriedModelError(RuntimeError):
    """A carried model folder is incomplete or does not match its pinned digest."""


def tensor_digest(tensors: dict) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes, in name order: the same for the
    same weights whatever wrote the file (safetensors headers may differ between versions)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.view(-1).view(dtype=_byte_dtype()).numpy().tobytes())
    return digest.hexdigest()


def _byte_dtype():  # torch imported lazily: this module is found by packaged.py at import
    import torch

    return torch.uint8


def export_half(name: str, target: Path) -> Path:
    """Write packaged model `name` (verified from its package) as fp16 into target/name/."""
    from safetensors.torch import load_file, save_file

    from morec_core.encoders import packaged

    source = packaged.TEXT_MODELS[name]()
    half = {key: value.half() for key, value in load_file(source / "model.safetensors").items()}
    final = Path(target) / name
    with atomic_directory(final) as temporary:
        save_file(half, str(temporary / "model.safetensors"))
        for file in SMALL_FILES:
            shutil.copyfile(source / file, temporary / file)
    return final


def available(name: str) -> bool:
    """Whether $MOREC_MODELS_DIR holds a carried copy of model `name` (not yet verified)."""
    root = os.environ.get(MODELS_DIR_ENV, "")
    return bool(root) and name in HALF_DIGESTS and (Path(root) / name).is_dir()


def packaged_or_carried(name: str) -> Path:
    """The verified folder of packaged text model `name`: from its package, else from a carried
    copy; PackagedModelError (naming both ways) when neither is there."""
    from morec_core.encoders import packaged

    try:
        return packaged.TEXT_MODELS[name]()
    except packaged.PackagedModelError as error:
        carried = carried_folder(name)
        if carried is None:
            raise packaged.PackagedModelError(
                f"{error} (or carry an fp16 copy in ${MODELS_DIR_ENV}: python -m "
                f"morec_core.encoders.carried export {name} FOLDER)") from None
        return carried


def carried_folder(name: str) -> Path | None:
    """The fp32 folder of model `name` built from a carried fp16 copy, or None when
    $MOREC_MODELS_DIR holds none. CarriedModelError when one is there but does not verify."""
    if not available(name):
        return None
    folder = Path(os.environ[MODELS_DIR_ENV]) / name
    final = paths.data_dir() / "models" / f"{name}-from-fp16"
    if final.is_dir():
        return final
    from safetensors.torch import load_file

    from morec_core.encoders import packaged

    missing = [file for file in ("model.safetensors", *SMALL_FILES)
               if not (folder / file).is_file()]
    if missing:
        raise CarriedModelError(f"{folder}: missing {', '.join(missing)}")
    for file in SMALL_FILES:  # the release's own files, byte for byte
        packaged.verify_sha256(folder / file, packaged.MINILM_FILES[file])
    half = load_file(folder / "model.safetensors")
    actual = tensor_digest(half)
    if actual != HALF_DIGESTS[name]:
        raise CarriedModelError(f"{folder / 'model.safetensors'}: its fp16 tensors are not the "
                                f"pinned release's (digest {actual[:16]}...)")
    from safetensors.torch import save_file

    with atomic_directory(final) as temporary:
        save_file({key: value.float() for key, value in half.items()},
                  str(temporary / "model.safetensors"))
        for file in SMALL_FILES:
            shutil.copyfile(folder / file, temporary / file)
    return final


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "export" or argv[1] not in HALF_DIGESTS:
        print(f"usage: python -m morec_core.encoders.carried export "
              f"{'|'.join(HALF_DIGESTS)} FOLDER", file=sys.stderr)
        return 2
    print(export_half(argv[1], Path(argv[2])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
