"""MPNet's eager self-attention against morec's SDPA replacement: same function, same parameters."""

from __future__ import annotations

import copy

import pytest
import torch

from morec_core.encoders.attention import MPNetSdpaSelfAttention, use_eager, use_sdpa

transformers = pytest.importorskip("transformers")


def tiny_mpnet(dropout: float = 0.0):
    torch.manual_seed(0)
    config = transformers.MPNetConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=4, intermediate_size=64,
                                      max_position_embeddings=40,
                                      attention_probs_dropout_prob=dropout,
                                      hidden_dropout_prob=dropout)
    model = transformers.AutoModel.from_config(config)
    with torch.no_grad():  # a bias that matters: transformers initialises it small
        model.encoder.relative_attention_bias.weight.normal_(std=1.0)
    return model


def batch(count: int = 5, width: int = 9):
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 60, (count, width), generator=generator)
    lengths = torch.tensor([width, 1, 4, width - 1, 6])[:count]
    mask = torch.arange(width) < lengths[:, None]  # (N, L): rows of several lengths, one of 1
    return input_ids.masked_fill(~mask, 1), mask.long()


def test_sdpa_computes_mpnets_attention_and_gradients():
    eager = tiny_mpnet()
    fused = copy.deepcopy(eager)
    assert use_sdpa(fused) == 2
    assert sum(isinstance(m, MPNetSdpaSelfAttention) for m in fused.modules()) == 2
    # Same parameters under the same names: checkpoints and optimizer groups carry over.
    assert list(fused.state_dict()) == list(eager.state_dict())
    input_ids, mask = batch()
    outputs = {}
    for name, model in (("eager", eager), ("sdpa", fused)):
        model.train()  # dropout is 0, so train mode is deterministic and gradients flow
        hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state  # (N, L, H)
        # Padded positions' outputs are not used and need not agree; the real ones must.
        loss = (hidden * mask[..., None]).square().sum()
        loss.backward()
        outputs[name] = (hidden[mask.bool()], {n: p.grad for n, p in model.named_parameters()})
    torch.testing.assert_close(outputs["sdpa"][0], outputs["eager"][0], atol=1e-5, rtol=1e-4)
    for name, grad in outputs["eager"][1].items():
        if name.startswith("pooler."):  # not in the loss
            continue
        assert outputs["sdpa"][1][name] is not None, name
        torch.testing.assert_close(outputs["sdpa"][1][name], grad, atol=1e-4, rtol=1e-3,
                                   msg=lambda text, name=name: f"{name}: {text}")
    # The relative position bias is trained through SDPA's mask.
    assert outputs["sdpa"][1]["encoder.relative_attention_bias.weight"].abs().sum() > 0


def test_sdpa_keeps_attention_dropout_in_training_only():
    model = tiny_mpnet(dropout=0.5)
    use_sdpa(model)
    input_ids, mask = batch()
    model.eval()
    first = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(model(input_ids=input_ids, attention_mask=mask).last_hidden_state,
                               first)
    model.train()
    torch.manual_seed(3)
    dropped = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    assert not torch.allclose(dropped, first, atol=1e-3)


def test_sdpa_leaves_other_architectures_alone():
    config = transformers.BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64)
    assert use_sdpa(transformers.AutoModel.from_config(config)) == 0
    model = tiny_mpnet()
    use_sdpa(model)
    input_ids, mask = batch()
    with pytest.raises(ValueError, match="no attention weights"):
        model(input_ids=input_ids, attention_mask=mask, output_attentions=True)


def test_use_eager_undoes_use_sdpa_over_the_same_parameters():
    model = tiny_mpnet()
    input_ids, mask = batch()
    model.eval()
    before = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    parameters = [id(p) for p in model.parameters()]
    use_sdpa(model)
    assert use_eager(model) == 2
    assert not any(isinstance(m, MPNetSdpaSelfAttention) for m in model.modules())
    assert [id(p) for p in model.parameters()] == parameters
    attentions = model(input_ids=input_ids, attention_mask=mask,
                       output_attentions=True).attentions  # eager attention gives its weights
    assert len(attentions) == 2 and attentions[0].shape == (5, 4, 9, 9)
    torch.testing.assert_close(model(input_ids=input_ids, attention_mask=mask).last_hidden_state,
                               before)
