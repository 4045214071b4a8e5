"""The mean-of-word-vectors encoder on a hand-made vocabulary, and the packaged GloVe 6B 50d."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from morec_core.config import EncoderConfig
from morec_core.encoders import packaged
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.glove import GloveFeatures, build_glove_encoder, load_word_vectors, words

WORDS = ["the", "cat", "sat", "mat", "dog", "unused"]
VECTORS = np.array([[1, 0, 0], [0, 2, 0], [0, 0, 3], [4, 4, 4], [5, 0, 5], [9, 9, 9]],
                   np.float32)
TITLES = ["", "The cat", "Dog!", "zebra quagga", "the cat sat on the mat", "CAT, cat."]


@pytest.fixture
def vector_folder(tmp_path) -> str:
    """A local word-vector model: vectors.npy and vocab.txt in the same order."""
    np.save(tmp_path / "vectors.npy", VECTORS)
    (tmp_path / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    return str(tmp_path)


def features_of(titles=TITLES, trainable=False) -> GloveFeatures:
    return GloveFeatures(VECTORS, {w: i for i, w in enumerate(WORDS)}, titles,
                         trainable=trainable)


def test_words_are_lower_cased_word_tokens():
    assert words("The CAT, sat-on the_mat (2023)!") == ["the", "cat", "sat", "on", "the", "mat",
                                                        "2023"]


def test_title_vector_is_the_mean_of_its_known_words():
    features = features_of()
    out = features(torch.arange(len(TITLES)))
    expected = [
        [0, 0, 0],                            # padding item: no words
        [0.5, 1, 0],                          # the, cat
        [5, 0, 5],                            # dog
        [0, 0, 0],                            # every word unknown
        [(1 + 0 + 0 + 1 + 4) / 5, (0 + 2 + 0 + 0 + 4) / 5, (0 + 0 + 3 + 0 + 4) / 5],  # "on" skipped
        [0, 2, 0],                            # cat twice
    ]
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float32))
    assert features.feature_dim == 3
    # Only the vectors of words in some title are kept (+ the zero padding row).
    assert features.embedding.weight.shape == (1 + 5, 3)


def test_each_batch_reads_only_its_longest_title():
    features = features_of()
    widths = []
    features.embedding.register_forward_hook(lambda m, args, out: widths.append(args[0].shape[1]))
    features(torch.tensor([1, 2]))
    features(torch.tensor([4]))
    assert widths == [2, 5]


def test_frozen_or_trainable_vectors():
    assert features_of(trainable=False).parameter_groups() == {"encoder": []}
    features = features_of(trainable=True)
    (weight,) = features.parameter_groups()["encoder"]
    features(torch.tensor([1, 3])).sum().backward()
    touched = (weight.grad.abs().sum(1) > 0).nonzero().flatten().tolist()
    assert len(touched) == 2  # the and cat; padding row 0 never learns
    assert 0 not in touched


def test_builder_reads_a_local_folder_as_a_memory_map(vector_folder):
    vectors, vocabulary = load_word_vectors(vector_folder)
    assert isinstance(vectors, np.memmap) and vocabulary["mat"] == 3
    inputs = EncoderInputs(num_items=len(TITLES) - 1, titles=TITLES)
    frozen = build_glove_encoder(EncoderConfig(name="glove", model=vector_folder,
                                               finetune_layers=0), inputs)
    torch.testing.assert_close(frozen(torch.tensor([2])), torch.tensor([[5.0, 0.0, 5.0]]))
    assert frozen.parameter_groups() == {"encoder": []}
    trained = build_glove_encoder(EncoderConfig(name="glove", model=vector_folder), inputs)
    assert len(trained.parameter_groups()["encoder"]) == 1
    scratch = build_glove_encoder(EncoderConfig(name="glove", model=vector_folder,
                                                pretrained=False), inputs)
    assert not torch.allclose(scratch(torch.tensor([2])), frozen(torch.tensor([2])))
    assert torch.equal(scratch(torch.tensor([0])), torch.zeros(1, 3))


def test_builder_refuses_bad_inputs(vector_folder, tmp_path):
    with pytest.raises(ValueError, match="num_items \\+ 1"):
        build_glove_encoder(EncoderConfig(name="glove", model=vector_folder),
                            EncoderInputs(num_items=len(TITLES), titles=TITLES))
    with pytest.raises(ValueError, match="vectors.npy and vocab.txt"):
        load_word_vectors(str(tmp_path / "nowhere"))


@pytest.mark.skipif(not packaged.installed("glove-6b-50d"),
                    reason="packaged GloVe not installed: "
                           + "; ".join(packaged.pip_lines("glove-6b-50d")))
def test_packaged_glove_6b_50d():
    vectors, vocabulary = load_word_vectors("glove-6b-50d")
    assert vectors.shape == (400_000, 50) and len(vocabulary) == 400_000
    # Stanford's glove.6B.50d.txt begins "the 0.418 0.24968 -0.41242 0.1217 0.34527 ...".
    np.testing.assert_allclose(vectors[vocabulary["the"]][:5],
                               [0.418, 0.24968, -0.41242, 0.1217, 0.34527], rtol=1e-5)
    titles = ["", "The cat", "qwxzq"]
    features = build_glove_encoder(EncoderConfig(name="glove", model="glove-6b-50d",
                                                 finetune_layers=0),
                                   EncoderInputs(num_items=2, titles=titles))
    out = features(torch.tensor([1, 2]))
    expected = (vectors[vocabulary["the"]] + vectors[vocabulary["cat"]]) / 2
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=1e-6)
    assert torch.equal(out[1], torch.zeros(50))
