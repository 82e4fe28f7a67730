"""Qwen3 (QK-norm per head, explicit head_dim other than hidden/heads, tied and untied, with and
without attention biases) and Phi-3 (fused qkv_proj and gate_up_proj, grouped-query attention,
full and partial rotary, v5 and v4 config spellings), made by transformers itself from the configs
below with random weights and random norm gains around 1 (q_norm and k_norm included), saved
with save_pretrained: grow probe equals transformers' float32 logits within 1e-4 in both of
grow's precisions; grow convert writes back every tensor bit for bit (and BF16 computes what the
BF16-rounded source computes), and transformers loads both without a warning. A rope_scaling
grow does not compute (Phi-3's longrope) is refused with its name."""

import json

import numpy as np
import pytest
import torch
import transformers

from growhf import grow_probe, hf_outputs, load_clean, max_abs, randomize, read_tensors, run_grow

TOL = 1e-4

# Token ids inside the vocabulary, so that transformers has nothing to warn about.
TOKENS = dict(vocab_size=150, bos_token_id=1, eos_token_id=2, pad_token_id=0)
COMMON = dict(hidden_size=32, intermediate_size=72, num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=64, **TOKENS)

MODELS = {
    # head_dim 12 and 16: H·d is 48 and 64, not the hidden width 32
    "qwen3-untied": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM,
                     dict(num_key_value_heads=2, head_dim=12, tie_word_embeddings=False)),
    "qwen3-tied-bias": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM,
                        dict(num_key_value_heads=1, head_dim=16, tie_word_embeddings=True,
                             attention_bias=True, rope_theta=1e6)),
    "phi3-gqa": (transformers.Phi3Config, transformers.Phi3ForCausalLM,
                 dict(num_key_value_heads=2, tie_word_embeddings=False)),
    # head_dim 8: 4 and 6 rotated dims
    "phi3-partial-half": (transformers.Phi3Config, transformers.Phi3ForCausalLM,
                          dict(num_key_value_heads=1, partial_rotary_factor=0.5,
                               tie_word_embeddings=False)),
    "phi3-partial-tied": (transformers.Phi3Config, transformers.Phi3ForCausalLM,
                          dict(num_key_value_heads=4, partial_rotary_factor=0.75,
                               tie_word_embeddings=True)),
}

# A Phi-3 config in transformers v4's spelling (rope_theta and partial_rotary_factor at the top
# level, no rope_parameters), as Phi-4-mini's: rewritten from phi3-partial-half's.
V4 = "phi3-partial-v4"

IDS = [1] + np.random.default_rng(11).integers(3, 150, size=15).tolist()


def _to_v4(model_dir):
    p = model_dir / "config.json"
    cfg = json.loads(p.read_text())
    rope = cfg.pop("rope_parameters")
    assert rope["rope_type"] == "default", rope
    cfg["rope_theta"] = rope["rope_theta"]
    cfg["partial_rotary_factor"] = rope["partial_rotary_factor"]
    p.write_text(json.dumps(cfg, indent=2))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            base = name if name != V4 else "phi3-partial-half"
            cfg_cls, model_cls, extra = MODELS[base]
            torch.manual_seed(13)
            m = model_cls(cfg_cls(**COMMON, **extra))
            randomize(m, 13)
            # The norm gains are random around 1 (QK-norm's per-head gains included), so
            # that a forward pass that skipped or misplaced one would not match.
            norms = {n: p for n, p in m.named_parameters() if "norm" in n}
            assert any("q_norm" in n for n in norms) == name.startswith("qwen3")
            for n, p in norms.items():
                assert p.std().item() > 0.05 and abs(p.mean().item() - 1) < 0.3, n
            d = tmp_path_factory.mktemp(name) / "model"
            m.save_pretrained(d, safe_serialization=True)
            if name == V4:
                _to_v4(d)
            cache[name] = (d, load_clean(d))
        return cache[name]

    return get


ALL = list(MODELS) + [V4]


@pytest.mark.parametrize("precision", ["f64", "f32"])
@pytest.mark.parametrize("name", ALL)
def test_probe(model, name, precision):
    d, m = model(name)
    if name == V4:
        assert "rope_parameters" not in json.loads((d / "config.json").read_text())
        assert m.config.rope_parameters["partial_rotary_factor"] == 0.5
    want = hf_outputs(m, IDS)
    assert np.max(np.abs(want)) > 0.1
    diff = max_abs(grow_probe(d, IDS, precision), want,
                   f"probe {name} {precision} vs transformers", TOL)
    assert diff <= TOL, f"{name} {precision}: grow probe vs transformers {diff:.3g}"


@pytest.mark.parametrize("name", ALL)
def test_convert_round_trip(tmp_path, model, name):
    d, src = model(name)
    out = tmp_path / "f32"
    run_grow("convert", d, "-o", out, "--quiet")
    want, _ = read_tensors(d)
    got, _ = read_tensors(out)
    assert set(got) == set(want), (f"tensor names differ: missing {sorted(set(want) - set(got))}, "
                                   f"extra {sorted(set(got) - set(want))}")
    for n, (t, _) in want.items():
        assert got[n][0].dtype == t.dtype and torch.equal(got[n][0], t), f"{n} changed"
    cfg_src = json.loads((d / "config.json").read_text())
    cfg_out = json.loads((out / "config.json").read_text())
    # grow adds its claim (the identity, BIT-EXACT) and changes nothing else.
    claim = cfg_out.pop("grow_mapping", None)
    assert claim is not None and claim["class"] == "BIT-EXACT" and claim["operator"] == "convert", claim
    assert cfg_out == cfg_src, "grow convert changed config.json"
    conv = load_clean(out)
    assert (hf_outputs(conv, IDS) == hf_outputs(src, IDS)).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_convert_bf16(tmp_path, model, name):
    d, _ = model(name)
    out = tmp_path / "bf16"
    run_grow("convert", d, "-o", out, "--dtype", "bf16", "--quiet")
    got = load_clean(out)
    ref = load_clean(d)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    g, w = hf_outputs(got, IDS), hf_outputs(ref, IDS)
    assert (g == w).all(), f"bf16 output differs from the BF16-rounded source by {abs(g - w).max()}"


def test_phi3_longrope_refused(tmp_path, model):
    d, _ = model("phi3-gqa")
    p = tmp_path / "longrope"
    p.mkdir()
    for f in d.iterdir():
        (p / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((p / "config.json").read_text())
    half = 32 // 4 // 2
    cfg["rope_parameters"] = {"rope_type": "longrope", "rope_theta": 10000.0,
                              "partial_rotary_factor": 1.0, "short_factor": [1.0] * half,
                              "long_factor": [2.0] * half}
    cfg["original_max_position_embeddings"] = 32
    (p / "config.json").write_text(json.dumps(cfg))
    transformers.AutoConfig.from_pretrained(p)  # a config transformers accepts
    r = run_grow("probe", p, "--ids", "1,2,3", "--json", check=False)
    assert r.returncode != 0, "grow probe ran a longrope model"
    assert "longrope" in r.stderr and "not supported" in r.stderr, r.stderr
