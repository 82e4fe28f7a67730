"""The LLaMA-family variants grow supports, made by transformers itself and checked end to end
against it: Qwen2 (q/k/v biases, GQA, untied head), Llama with multi-query attention and
Llama-3 rope scaling (untied), Mistral (GQA, tied). For each: grow probe equals transformers'
logits, grow convert --dtype bf16 loads without warnings and computes what the rounded source
computes, and grow expand (HyperCloning, LEMON) preserves transformers' logits."""

import numpy as np
import pytest
import torch
import transformers

from growhf import grow_probe, hf_outputs, load_clean, max_abs, randomize, run_grow

TOL = 1e-4

COMMON = dict(vocab_size=150, hidden_size=32, intermediate_size=72, num_hidden_layers=2,
              num_attention_heads=4, max_position_embeddings=64)

FAMILIES = {
    "qwen2-gqa-bias": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
                       dict(num_key_value_heads=2, tie_word_embeddings=False)),
    "llama-mqa-rope3": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
                        dict(num_key_value_heads=1, tie_word_embeddings=False,
                             rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0,
                                              "factor": 8.0, "low_freq_factor": 1.0,
                                              "high_freq_factor": 4.0,
                                              "original_max_position_embeddings": 16})),
    "mistral-gqa-tied": (transformers.MistralConfig, transformers.MistralForCausalLM,
                         dict(num_key_value_heads=2, tie_word_embeddings=True,
                              sliding_window=None)),
}

# (id, grow expand flags); both are function-preserving
EXPANSIONS = [
    ("hc2", ["--method", "hypercloning", "--width-factor", "2"]),
    ("lemon48", ["--method", "lemon", "--hidden", "48", "--heads", "6", "--ffn", "100"]),
]

IDS = [1] + np.random.default_rng(7).integers(3, 150, size=15).tolist()


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cfg_cls, model_cls, extra = FAMILIES[name]
            torch.manual_seed(5)
            m = model_cls(cfg_cls(**COMMON, **extra))
            randomize(m, 5)
            d = tmp_path_factory.mktemp(name) / "model"
            m.save_pretrained(d, safe_serialization=True)
            cache[name] = (d, load_clean(d))
        return cache[name]

    return get


@pytest.mark.parametrize("precision", ["f64", "f32"])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_probe(family, name, precision):
    d, m = family(name)
    want = hf_outputs(m, IDS)
    assert np.max(np.abs(want)) > 0.1
    d_ = max_abs(grow_probe(d, IDS, precision), want, f"probe {name} {precision} vs transformers",
                 TOL)
    assert d_ <= TOL, f"{name} {precision}: grow probe vs transformers {d_:.3g}"


@pytest.mark.parametrize("name", list(FAMILIES))
def test_convert_bf16(tmp_path, family, name):
    d, _ = family(name)
    out = tmp_path / "bf16"
    run_grow("convert", d, "-o", out, "--dtype", "bf16", "--quiet")
    got = load_clean(out)
    ref = load_clean(d)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    g, w = hf_outputs(got, IDS), hf_outputs(ref, IDS)
    assert (g == w).all(), f"bf16 output differs from the BF16-rounded source by {abs(g - w).max()}"


@pytest.mark.parametrize("exp_id,flags", EXPANSIONS, ids=[e[0] for e in EXPANSIONS])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_expand(tmp_path, family, name, exp_id, flags):
    d, src = family(name)
    out = tmp_path / exp_id
    run_grow("expand", d, "-o", out, "--quiet", *flags)
    grown = load_clean(out)
    cfg = transformers.AutoConfig.from_pretrained(out)
    assert cfg.model_type == src.config.model_type
    if name.startswith("llama-mqa"):
        assert cfg.num_key_value_heads == 1, "multi-query attention must keep one kv head"
    got, want = hf_outputs(grown, IDS), hf_outputs(src, IDS)
    diff = max_abs(got, want, f"expand {name} {exp_id}: transformers grown vs source", TOL)
    assert diff <= TOL, f"{name} {exp_id}: grown vs source logits differ by {diff:.3g}"
