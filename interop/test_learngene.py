"""`grow learngene extract` and `expand` (TLEG, SWS): the expansions load in transformers without a
warning for every registered model type and run there as in grow probe (within 1e-4); TLEG's gene
is the least-squares line numpy fits over depth, expanding it to the fitted depth gives the fitted
weights, consecutive blocks differ by θ_B/L and θ_A, θ_B come back from an expansion; SWS blocks
are the stages the layer-source list names."""

import json

import numpy as np
import pytest
import torch

from growhf import TESTDATA, grow_probe, hf_outputs, load_clean, max_abs, read_tensors, run_grow
from test_shrink import MODELS, teacher  # noqa: F401  (the fixture)

TOL = 1e-4
STORIES = TESTDATA / "stories260k"
PARTS = ["input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.q_proj.weight",
         "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
         "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"]


def _block(tensors, i, part):
    return tensors[f"model.layers.{i}.{part}"][0].to(torch.float64).numpy()


@pytest.fixture(scope="module")
def genes(tmp_path_factory):
    base = tmp_path_factory.mktemp("genes")
    run_grow("learngene", "extract", STORIES, "-o", base / "tleg", "--quiet")
    run_grow("learngene", "extract", STORIES, "-o", base / "sws", "--quiet", "--kind", "sws",
             "--stages", "2,3")
    return base


def test_tleg_is_the_least_squares_line(genes):
    src, _ = read_tensors(STORIES)
    gene, _ = read_tensors(genes / "tleg")
    t = np.arange(5) / 5
    fit = {f["role"]: f["r2"] for f in json.loads((genes / "tleg" / "learngene.json").read_text())["fit"]}
    assert len(fit) == 9
    for part in PARTS:
        ys = np.stack([_block(src, i, part).ravel() for i in range(5)])
        b, a = np.polyfit(t, ys, 1)
        np.testing.assert_allclose(_block(gene, 0, part).ravel(), a, atol=2e-6, err_msg=part)
        np.testing.assert_allclose(_block(gene, 1, part).ravel(), b, atol=2e-6, err_msg=part)


@pytest.mark.parametrize("layers", [3, 5, 8])
def test_tleg_expansion(tmp_path, genes, layers):
    out = tmp_path / f"tleg{layers}"
    run_grow("learngene", "expand", genes / "tleg", "-o", out, "--layers", layers, "--quiet")
    model = load_clean(out)
    assert model.config.num_hidden_layers == layers
    ids = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376]
    d = max_abs(grow_probe(out, ids), hf_outputs(model, ids), f"tleg{layers}: probe vs transformers", TOL)
    assert d <= TOL
    gene, _ = read_tensors(genes / "tleg")
    dst, _ = read_tensors(out)
    for part in PARTS:
        a, b = _block(gene, 0, part), _block(gene, 1, part)
        got = [_block(dst, i, part) for i in range(layers)]
        assert np.array_equal(got[0], a), f"θ_0 of {part} is not θ_A"
        for i in range(layers):  # the expansion's formula, in float64, stored as float32
            want = (a + (i / layers) * b).astype(np.float32).astype(np.float64)
            assert np.array_equal(got[i], want), f"block {i} {part}"
        step = np.diff(np.stack(got), axis=0)
        np.testing.assert_allclose(step, np.broadcast_to(b / layers, step.shape), atol=1e-6)
        np.testing.assert_allclose(layers * (got[1] - got[0]), b, atol=1e-5 * layers)


def test_sws_layer_source(tmp_path, genes):
    out = tmp_path / "sws7"
    run_grow("learngene", "expand", genes / "sws", "-o", out, "--layers-source", "0,0,0,1,1,1,1",
             "--quiet")
    load_clean(out)
    gene, _ = read_tensors(genes / "sws")
    dst, _ = read_tensors(out)
    for i, s in enumerate([0, 0, 0, 1, 1, 1, 1]):
        for part in PARTS:
            assert np.array_equal(_block(dst, i, part), _block(gene, s, part)), f"block {i} {part}"
    p = run_grow("learngene", "expand", genes / "sws", "-o", tmp_path / "bad", "--layers-source",
                 "1,0", check=False)
    assert p.returncode == 2 and "must not decrease" in p.stderr, p.stderr


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("kind", ["tleg", "sws"])
def test_every_family(tmp_path, teacher, name, kind):  # noqa: F811
    src = teacher(name)
    gene = tmp_path / "gene"
    run_grow("learngene", "extract", src, "-o", gene, "--kind", kind, "--quiet")
    out = tmp_path / "out"
    run_grow("learngene", "expand", gene, "-o", out, "--layers", "4", "--quiet")
    model = load_clean(out)
    ids = [1] + np.random.default_rng(5).integers(3, 150, size=11).tolist()
    want = hf_outputs(model, ids)
    assert np.isfinite(want).all()
    d = max_abs(grow_probe(out, ids), want, f"learngene {kind} {name}: probe vs transformers", TOL)
    assert d <= TOL
