"""HyperCloning ×2 and LEMON on the Qwen3 and Phi-3 models of test_qwen3_phi3.py (QK-norm, partial
rotary, fused-by-rows storage, derived head_dim with grouped-query attention) load in transformers
without warnings and match the source's logits: ≤ 1e-4 in float32, and ≤ 1e-5 relative to
max |logits| with both models run by transformers in float64. No operator has code for these
families: the transform engine grows every role by its declared axes."""

import numpy as np
import pytest
import torch
import transformers

from growhf import hf_outputs, load_clean, max_abs, run_grow
from test_qwen3_phi3 import IDS, MODELS, model  # noqa: F401 (the fixture)

TOL = 1e-4
REL64 = 1e-5

EXPANSIONS = [
    ("hc2", ["--method", "hypercloning", "--width-factor", "2"]),
    ("lemon48", ["--method", "lemon", "--hidden", "48", "--heads", "6", "--ffn", "100"]),
]


@pytest.mark.parametrize("exp_id,flags", EXPANSIONS, ids=[e[0] for e in EXPANSIONS])
@pytest.mark.parametrize("name", list(MODELS))
def test_expand(tmp_path, model, name, exp_id, flags):  # noqa: F811
    d, src = model(name)
    out = tmp_path / exp_id
    run_grow("expand", d, "-o", out, "--quiet", *flags)
    grown = load_clean(out)
    cfg = transformers.AutoConfig.from_pretrained(out)
    assert cfg.model_type == src.config.model_type
    got, want = hf_outputs(grown, IDS), hf_outputs(src, IDS)
    diff = max_abs(got, want, f"expand {name} {exp_id}: transformers grown vs source", TOL)
    assert diff <= TOL, f"{name} {exp_id}: grown vs source logits differ by {diff:.3g}"
    with torch.no_grad():
        got64, want64 = hf_outputs(grown.double(), IDS), hf_outputs(src.double(), IDS)
    scale = float(np.max(np.abs(want64)))
    rel = max_abs(got64, want64, f"expand {name} {exp_id}: float64, relative", REL64 * scale) / scale
    assert rel <= REL64, f"{name} {exp_id}: float64 logits differ by {rel:.3g} of max |logits|"
    src.float()
