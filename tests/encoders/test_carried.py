"""MiniLM-L6 carried as fp16 (for a machine without its package): used when the package is
absent, checked against the pinned digest, and the same network up to fp16 rounding."""

from pathlib import Path

import pytest

from morec_core.encoders import carried, packaged

pytestmark = pytest.mark.skipif(not packaged.installed("minilm-l6"),
                                reason="minilm-l6 is not installed: "
                                       + "; ".join(packaged.pip_lines("minilm-l6")))


@pytest.fixture
def without_package(monkeypatch, tmp_path):
    original = packaged.minilm_l6()
    exported = carried.export_half("minilm-l6", tmp_path / "carry")

    def absent(dist, relative_path):
        raise packaged.PackagedModelError(f"{dist.name} is not installed")

    monkeypatch.setattr(packaged, "locate", absent)
    monkeypatch.setattr(packaged, "installed", lambda name: False)
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))
    return original, exported


def test_the_carried_copy_stands_in_for_the_absent_package(without_package, monkeypatch):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from morec_core.encoders.text import resolve_model
    from morec_core.study.study_preflight import missing_model

    original, exported = without_package
    with pytest.raises(packaged.PackagedModelError, match="MOREC_MODELS_DIR"):
        resolve_model("minilm-l6")
    assert "not installed" in missing_model("text", "minilm-l6")
    monkeypatch.setenv(carried.MODELS_DIR_ENV, str(exported.parent))
    assert missing_model("text", "minilm-l6") == ""  # a study's preflight lets it through
    folder = Path(resolve_model("minilm-l6"))
    assert folder.name == "minilm-l6-from-fp16"
    tokens = AutoTokenizer.from_pretrained(folder)(["a short video of a cat"], return_tensors="pt")
    with torch.no_grad():
        widened = AutoModel.from_pretrained(folder).eval()(**tokens).last_hidden_state
        reference = AutoModel.from_pretrained(original).eval()(**tokens).last_hidden_state
    assert widened.dtype == torch.float32
    assert torch.allclose(widened, reference, atol=2e-2)
    assert not torch.equal(widened, reference)  # it is the rounded copy, not the release


def test_a_tampered_carried_copy_is_refused(without_package, monkeypatch):
    from safetensors.torch import load_file, save_file

    _, exported = without_package
    weights = load_file(exported / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name] * 1.01
    save_file(weights, str(exported / "model.safetensors"))
    monkeypatch.setenv(carried.MODELS_DIR_ENV, str(exported.parent))
    with pytest.raises(carried.CarriedModelError, match="not the pinned release"):
        carried.packaged_or_carried("minilm-l6")
