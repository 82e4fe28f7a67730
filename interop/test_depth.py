"""Depth growth: `grow expand --method identity|lemon --layers|duplicate` output loads in
transformers without warnings, with num_hidden_layers written; identity blocks and LEMON depth keep
transformers' logits (≤ 1e-4 in float32), and duplication's layers are exactly the requested ranges."""

import numpy as np
import pytest
import torch
import transformers

from growhf import TESTDATA, hf_outputs, load_clean, max_abs, read_tensors, run_grow
from test_expand import _ids, _make_gpt2

TOL = 1e-4


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    base = tmp_path_factory.mktemp("depth-sources")
    _make_gpt2(base / "gpt2")
    return {"llama": TESTDATA / "stories260k", "gpt2": base / "gpt2"}


CASES = [
    ("llama-identity7", "llama", ["--method", "identity", "--layers", "7"], 7),
    ("llama-identity-at", "llama", ["--method", "identity", "--at", "0,4,4"], 8),
    ("llama-lemon-depth8", "llama", ["--method", "lemon", "--layers", "8"], 8),
    ("llama-lemon-depth10-width", "llama",
     ["--method", "lemon", "--layers", "10", "--hidden", "128", "--depth-init", "cancelzero"], 10),
    ("gpt2-identity3", "gpt2", ["--method", "identity", "--insert", "after-every-1"], 4),
]


@pytest.mark.parametrize("case_id,family,flags,layers", CASES, ids=[c[0] for c in CASES])
def test_depth_preserves(tmp_path, sources, case_id, family, flags, layers):
    out = tmp_path / case_id
    run_grow("expand", sources[family], "-o", out, "--quiet", *flags)
    cfg = transformers.AutoConfig.from_pretrained(out)
    assert cfg.num_hidden_layers == layers, f"num_hidden_layers {cfg.num_hidden_layers}, want {layers}"
    grown, src = load_clean(out), load_clean(sources[family])
    ids = _ids(family, cfg.vocab_size)
    got, want = hf_outputs(grown, ids), hf_outputs(src, ids)
    d = max_abs(got, want, f"depth {case_id}: transformers grown vs source", TOL)
    assert d <= TOL, f"{case_id}: logits differ by {d:.3g}"


def test_duplicate_layers_are_the_ranges(tmp_path, sources):
    out = tmp_path / "dup"
    run_grow("expand", sources["llama"], "-o", out, "--quiet", "--method", "duplicate",
             "--ranges", "0-4,1-5")
    cfg = transformers.AutoConfig.from_pretrained(out)
    assert cfg.num_hidden_layers == 8
    load_clean(out)
    src, _ = read_tensors(TESTDATA / "stories260k")
    dst, _ = read_tensors(out)
    for k, s in enumerate([0, 1, 2, 3, 1, 2, 3, 4]):
        for part in ["self_attn.q_proj.weight", "mlp.down_proj.weight", "input_layernorm.weight"]:
            a = src[f"model.layers.{s}.{part}"][0]
            b = dst[f"model.layers.{k}.{part}"][0]
            assert torch.equal(a, b), f"layer {k} {part} is not source layer {s}'s"
