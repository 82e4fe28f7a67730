"""HyperCloning ×2, LEMON (×2, and a width that is not a multiple) and depth growth on the Gemma,
GPT-NeoX, OPT and OLMo-2 models of test_families2.py load in transformers without warnings and
match the source's logits: ≤ 1e-4 in float32, and ≤ 1e-5 relative to max |logits| with both run
by transformers in float64. No operator has code for these families: the transform engine grows
every role by its declared axes (GPT-NeoX's per-head query_key_value is split and interleaved
again by the graph). Where the engine cannot yet be exact for a family, grow refuses with the
reason, and the test checks the refusal: OLMo-2's uneven head copies (its QK-norm spans all
heads), OPT's eps scaling (its config has no eps). Gemma's sqrt(hidden) embedding scale and
(1 + w) norm gains are the engine's rules (embedding ×sqrt(D/D'), gains s·(1 + w) − 1)."""

import json

import numpy as np
import pytest
import torch
import transformers

from growhf import hf_outputs, load_clean, max_abs, run_grow
from test_families2 import IDS, _gemma_norm64, _olmo2_norm64, model  # noqa: F401 (the fixture)

TOL = 1e-4
REL64 = 1e-5

HC2 = ["--method", "hypercloning", "--width-factor", "2"]
LEMON2 = ["--method", "lemon", "--hidden", "64", "--seed", "3"]
LEMON48 = ["--method", "lemon", "--hidden", "48", "--ffn", "100", "--seed", "5"]
DEPTH = ["--method", "lemon", "--layers", "3"]
IDENTITY = ["--method", "identity", "--layers", "4"]

# (model, expansion id, flags, refusal): refusal is a phrase of grow's reason where grow refuses.
CASES = [
    ("neox-parallel", "hc2", HC2, None),
    ("neox-parallel", "lemon48", LEMON48, None),
    ("neox-sequential-half", "hc2", HC2, None),
    ("neox-sequential-half", "lemon48", LEMON48, None),
    ("neox-v4", "hc2", HC2, None),
    ("opt-tied", "hc2", HC2, None),
    ("opt-tied", "lemon2", LEMON2, None),
    ("opt-tied", "lemon48", LEMON48, "has no norm eps in its config"),
    ("opt-untied-nobias", "hc2", HC2, None),
    ("opt-untied-nobias", "identity", IDENTITY, None),
    ("olmo2-gqa", "hc2", HC2, None),
    ("olmo2-gqa", "lemon2", LEMON2, None),
    ("olmo2-gqa", "lemon48", LEMON48, "every query head is copied equally often"),
    ("olmo2-mqa-bias-tied", "hc2", HC2, None),
    ("olmo2-mqa-bias-tied", "depth", DEPTH, None),
    ("olmo2-v4", "hc2", HC2, None),
    ("gemma-tied", "depth", DEPTH, None),
    ("gemma-mqa-bias", "identity", IDENTITY, None),
    ("gemma-tied", "zeropad-ffn", ["--method", "zeropad", "--ffn", "100"], None),
    ("gemma-tied", "hc2", HC2, None),
    ("gemma-mqa-bias", "hc2", HC2, None),
    ("gemma-tied", "lemon48", LEMON48, None),
]


@pytest.mark.parametrize("name,exp_id,flags,refusal", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_expand(tmp_path, model, monkeypatch, name, exp_id, flags, refusal):  # noqa: F811
    d, src = model(name)
    out = tmp_path / exp_id
    r = run_grow("expand", d, "-o", out, "--quiet", *flags, check=refusal is None)
    if refusal is not None:
        if r.returncode == 0:
            pytest.fail(f"grow expand {name} {exp_id} no longer refuses ({refusal!r}): "
                        "turn the case into a comparison")
        assert refusal in r.stderr, r.stderr
        assert not out.exists(), "a refused expansion left an output"
        return
    grown = load_clean(out)
    cfg = transformers.AutoConfig.from_pretrained(out)
    assert cfg.model_type == src.config.model_type
    src_cfg = json.loads((d / "config.json").read_text())
    out_cfg = {k: v for k, v in json.loads((out / "config.json").read_text()).items()
               if not k.startswith("grow_")}  # grow's own keys (its claim)
    assert set(out_cfg) == set(src_cfg), "the written config changed its layout: " \
        f"{sorted(set(out_cfg) ^ set(src_cfg))}"
    got, want = hf_outputs(grown, IDS), hf_outputs(src, IDS)
    diff = max_abs(got, want, f"expand {name} {exp_id}: transformers grown vs source", TOL)
    assert diff <= TOL, f"{name} {exp_id}: grown vs source logits differ by {diff:.3g}"
    monkeypatch.setattr(transformers.models.gemma.modeling_gemma.GemmaRMSNorm, "forward", _gemma_norm64)
    monkeypatch.setattr(transformers.models.olmo2.modeling_olmo2.Olmo2RMSNorm, "forward", _olmo2_norm64)
    with torch.no_grad():
        got64, want64 = hf_outputs(grown.double(), IDS), hf_outputs(src.double(), IDS)
    src.float()
    scale = float(np.max(np.abs(want64)))
    rel = max_abs(got64, want64, f"expand {name} {exp_id}: float64, relative", REL64 * scale) / scale
    assert rel <= REL64, f"{name} {exp_id}: float64 logits differ by {rel:.3g} of max |logits|"
