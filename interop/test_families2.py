"""Gemma ((1 + w) RMSNorm, embeddings ×sqrt(hidden), tanh GeGLU, explicit head_dim, tied head),
GPT-NeoX (parallel attention and MLP, partial rotary, query_key_value interleaved per head,
LayerNorm, biases, untied embed_out), OPT (learned positions offset by 2, ReLU, pre-LN, biases)
and OLMo-2 (RMSNorm after each sublayer, QK-norm over the whole q and k projections), each built
by transformers itself from the configs below with random weights, norm gains and biases, saved
with save_pretrained, also in transformers v4's config spelling: grow probe equals transformers'
logits within 1e-4 in float32 and within 1e-6 when both run in float64 (a tanh GELU read as the
erf one moves these logits by more than that); grow convert writes back every tensor and the
config as they were; the OPT settings grow does not compute are refused with the reason."""

import json

import numpy as np
import pytest
import torch
import transformers

from growhf import grow_probe, hf_outputs, load_clean, max_abs, randomize, read_tensors, run_grow

TOL = 1e-4
TOL64 = 1e-6

TOKENS = dict(vocab_size=150, bos_token_id=1, eos_token_id=2, pad_token_id=0)
COMMON = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
              **TOKENS)

MODELS = {
    # head_dim 12: H·d is 48, not the hidden width 32
    "gemma-tied": (transformers.GemmaConfig, transformers.GemmaForCausalLM,
                   dict(intermediate_size=72, num_key_value_heads=2, head_dim=12)),
    "gemma-mqa-bias": (transformers.GemmaConfig, transformers.GemmaForCausalLM,
                       dict(intermediate_size=72, num_key_value_heads=1, head_dim=8, attention_bias=True,
                            tie_word_embeddings=False, rope_theta=500.0)),
    # head_dim 8, rotary_pct 0.25: 2 rotated dims
    "neox-parallel": (transformers.GPTNeoXConfig, transformers.GPTNeoXForCausalLM,
                      dict(intermediate_size=72)),
    "neox-sequential-half": (transformers.GPTNeoXConfig, transformers.GPTNeoXForCausalLM,
                             dict(intermediate_size=72, use_parallel_residual=False, rotary_pct=0.5,
                                  attention_bias=False, tie_word_embeddings=True)),
    "opt-tied": (transformers.OPTConfig, transformers.OPTForCausalLM, dict(ffn_dim=72)),
    "opt-untied-nobias": (transformers.OPTConfig, transformers.OPTForCausalLM,
                          dict(ffn_dim=72, enable_bias=False, tie_word_embeddings=False)),
    "olmo2-gqa": (transformers.Olmo2Config, transformers.Olmo2ForCausalLM,
                  dict(intermediate_size=72, num_key_value_heads=2)),
    "olmo2-mqa-bias-tied": (transformers.Olmo2Config, transformers.Olmo2ForCausalLM,
                            dict(intermediate_size=72, num_key_value_heads=1, attention_bias=True,
                                 tie_word_embeddings=True)),
}

# The same models with their config.json rewritten in transformers v4's spelling: the RoPE
# base and the rotary fraction at the top level (GPT-NeoX's rotary_emb_base and rotary_pct), no
# rope_parameters, torch_dtype for dtype; Gemma's hidden_act "gelu", which GemmaConfig reads as
# the tanh GELU (gemma-2b's config.json says so).
V4 = {"gemma-v4": "gemma-mqa-bias", "neox-v4": "neox-sequential-half", "olmo2-v4": "olmo2-gqa"}

IDS = [1] + np.random.default_rng(12).integers(3, 150, size=15).tolist()


def _to_v4(model_dir):
    p = model_dir / "config.json"
    cfg = json.loads(p.read_text())
    rope = cfg.pop("rope_parameters")
    assert rope["rope_type"] == "default", rope
    if cfg["model_type"] == "gpt_neox":
        cfg["rotary_emb_base"] = rope["rope_theta"]
        cfg["rotary_pct"] = rope["partial_rotary_factor"]
    else:
        cfg["rope_theta"] = rope["rope_theta"]
    if cfg["model_type"] == "gemma":
        cfg["hidden_act"] = "gelu"
    cfg["torch_dtype"] = cfg.pop("dtype")
    p.write_text(json.dumps(cfg, indent=2))


def build(name, tmp_path_factory):
    """Builds, randomises and saves one of MODELS (or V4); returns its directory."""
    base = V4.get(name, name)
    cfg_cls, model_cls, extra = MODELS[base]
    torch.manual_seed(17)
    m = model_cls(cfg_cls(**COMMON, **extra))
    randomize(m, 17)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if m.config.model_type == "gemma" and "norm" in n:
                p.sub_(1.0)  # Gemma multiplies by 1 + w: gains around 1, stored around 0
    d = tmp_path_factory.mktemp(name) / "model"
    m.save_pretrained(d, safe_serialization=True)
    if name in V4:
        _to_v4(d)
    return d


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            d = build(name, tmp_path_factory)
            cache[name] = (d, load_clean(d))
        return cache[name]

    return get


ALL = list(MODELS) + list(V4)


def test_v4_configs(model):
    for name, base in V4.items():
        d, m = model(name)
        cfg = json.loads((d / "config.json").read_text())
        assert "rope_parameters" not in cfg and "torch_dtype" in cfg and "dtype" not in cfg, cfg
        _, b = model(base)
        assert m.config.rope_parameters == b.config.rope_parameters, name
        assert (hf_outputs(m, IDS) == hf_outputs(b, IDS)).all(), f"{name} computes otherwise than {base}"


def _gemma_norm64(self, x):
    return self._norm(x) * (1.0 + self.weight)


def _olmo2_norm64(self, x):
    variance = x.pow(2).mean(-1, keepdim=True)
    return self.weight * (x * torch.rsqrt(variance + self.variance_epsilon))


@pytest.mark.parametrize("name", ALL)
def test_probe(model, name, monkeypatch):
    d, m = model(name)
    want = hf_outputs(m, IDS)
    assert np.max(np.abs(want)) > 0.1
    for precision in ("f32", "f64"):
        diff = max_abs(grow_probe(d, IDS, precision), want,
                       f"probe {name} {precision} vs transformers f32", TOL)
        assert diff <= TOL, f"{name} {precision}: grow probe vs transformers {diff:.3g}"
    # Gemma's and OLMo-2's RMSNorms compute in float32 whatever the model's dtype: for the
    # float64 comparison they compute their formula in float64.
    monkeypatch.setattr(transformers.models.gemma.modeling_gemma.GemmaRMSNorm, "forward", _gemma_norm64)
    monkeypatch.setattr(transformers.models.olmo2.modeling_olmo2.Olmo2RMSNorm, "forward", _olmo2_norm64)
    with torch.no_grad():
        want64 = hf_outputs(m.double(), IDS)
    m.float()
    diff = max_abs(grow_probe(d, IDS, "f64"), want64, f"probe {name} f64 vs transformers f64", TOL64)
    assert diff <= TOL64, f"{name}: grow probe f64 vs transformers float64 {diff:.3g}"


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
    assert (hf_outputs(load_clean(out), IDS) == hf_outputs(src, IDS)).all()


def _edited(tmp_path, d, **changes):
    p = tmp_path / "edited"
    p.mkdir()
    for f in d.iterdir():
        (p / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((p / "config.json").read_text())
    cfg.update(changes)
    (p / "config.json").write_text(json.dumps(cfg))
    return p


@pytest.mark.parametrize("key,value,says", [
    ("do_layer_norm_before", False, "post-LN OPT"),
    ("layer_norm_elementwise_affine", False, "without gains"),
    ("_remove_final_layer_norm", True, "final LayerNorm"),
])
def test_opt_settings_refused(tmp_path, model, key, value, says):
    d, _ = model("opt-tied")
    p = _edited(tmp_path, d, **{key: value})
    transformers.AutoConfig.from_pretrained(p)  # a config transformers accepts
    r = run_grow("probe", p, "--ids", "1,2,3", "--json", check=False)
    assert r.returncode != 0, f"grow probe ran an OPT with {key} {value}"
    assert key in r.stderr and says in r.stderr, r.stderr


def test_opt_projections_refused(tmp_path):
    """opt-350m's word_embed_proj_dim (project_in and project_out) is refused by name."""
    torch.manual_seed(3)
    m = transformers.OPTForCausalLM(transformers.OPTConfig(**COMMON, ffn_dim=72, word_embed_proj_dim=16))
    d = tmp_path / "proj"
    m.save_pretrained(d, safe_serialization=True)
    r = run_grow("probe", d, "--ids", "1,2,3", "--json", check=False)
    assert r.returncode != 0, "grow probe ran an OPT with project_in and project_out"
    assert "word_embed_proj_dim" in r.stderr and "project_in" in r.stderr, r.stderr
