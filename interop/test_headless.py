"""Base models without an output head (GPT2Model, LlamaModel): grow probe gives transformers'
last_hidden_state (≤ 1e-4 in float32), and every width method grows them into base models that
transformers loads without warnings and whose last hidden state is the source's under the method's
hidden map: HyperCloning's tile, for which every copy equals the source's hidden state."""

import numpy as np
import pytest
import torch
import transformers

from growhf import grow_probe, hf_outputs, load_clean, max_abs, randomize, run_grow

TOL = 1e-4
IDS = [3, 17, 5, 29, 8, 1, 40]


def _gpt2(path):
    cfg = transformers.GPT2Config(vocab_size=50, n_embd=32, n_head=4, n_layer=2, n_positions=32,
                                  bos_token_id=49, eos_token_id=49)
    torch.manual_seed(5)
    m = transformers.GPT2Model(cfg)
    randomize(m, 5)
    m.save_pretrained(path, safe_serialization=True)


def _llama(path):
    cfg = transformers.LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=48,
                                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(6)
    m = transformers.LlamaModel(cfg)
    randomize(m, 6)
    m.save_pretrained(path, safe_serialization=True)


@pytest.mark.parametrize("make", [_gpt2, _llama], ids=["gpt2model", "llamamodel"])
def test_headless_probe_and_grow(tmp_path, make):
    src = tmp_path / "src"
    make(src)
    want = hf_outputs(load_clean(src), IDS)
    assert want.shape[1] == 32, f"a base model's output is its hidden state, got width {want.shape[1]}"
    d = max_abs(grow_probe(src, IDS), want, f"headless {make.__name__}: grow probe vs transformers", TOL)
    assert d <= TOL, f"grow probe differs from transformers' last_hidden_state by {d:.3g}"

    out = tmp_path / "hc2"
    run_grow("expand", src, "-o", out, "--quiet", "--method", "hypercloning", "--width-factor", "2")
    grown = load_clean(out)
    got = hf_outputs(grown, IDS)
    assert got.shape[1] == 64
    for k in range(2):
        part = got[:, 32 * k:32 * (k + 1)]
        d = max_abs(part, want, f"headless {make.__name__} hc2 copy {k}: transformers vs source", TOL)
        assert d <= TOL, f"copy {k} of the grown hidden state differs from the source's by {d:.3g}"
    for method in (["--method", "lemon", "--hidden", "48", "--heads", "6", "--kv-heads", "3"]
                   if make is _llama else ["--method", "lemon", "--hidden", "64", "--heads", "8"],
                   ["--method", "zeropad", "--ffn", "160"]):
        o = tmp_path / method[1]
        run_grow("expand", src, "-o", o, "--quiet", *method)
        assert np.isfinite(hf_outputs(load_clean(o), IDS)).all()
