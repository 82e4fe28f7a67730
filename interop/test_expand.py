"""`grow expand` output loads in transformers without weight warnings, and for the
function-preserving methods (HyperCloning, LEMON) transformers' own logits on the grown model
equal its logits on the source within 1e-4 in float32 (issue 4)."""

import json

import numpy as np
import pytest
import torch
import transformers

from growhf import (TESTDATA, grow_probe, hf_outputs, load_clean, max_abs, randomize, read_tensors,
                    run_grow)

TOL = 1e-4


def _make_gpt2(path):
    cfg = transformers.GPT2Config(vocab_size=120, n_embd=32, n_head=4, n_layer=2, n_positions=64,
                                  bos_token_id=119, eos_token_id=119)
    torch.manual_seed(1)
    m = transformers.GPT2LMHeadModel(cfg)
    randomize(m, 1)
    m.save_pretrained(path, safe_serialization=True)


def _make_bert(path):
    cfg = transformers.BertConfig(vocab_size=120, hidden_size=32, num_attention_heads=4,
                                  num_hidden_layers=2, intermediate_size=64,
                                  max_position_embeddings=64)
    torch.manual_seed(2)
    m = transformers.BertForMaskedLM(cfg)
    randomize(m, 2)
    m.save_pretrained(path, safe_serialization=True)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    base = tmp_path_factory.mktemp("sources")
    _make_gpt2(base / "gpt2")
    _make_bert(base / "bert")
    return {"llama": TESTDATA / "stories260k", "gpt2": base / "gpt2", "bert": base / "bert"}


# family → name of the output-head tensor when it is written separately (untied)
HEAD = {"llama": "lm_head.weight", "gpt2": "lm_head.weight",
        "bert": "cls.predictions.decoder.weight"}

HC = ["--method", "hypercloning"]
# (id, family, grow expand flags, target hidden size, function-preserving?)
CASES = [
    ("llama-hc2", "llama", HC + ["--width-factor", "2"], 128, True),
    ("llama-hc3", "llama", HC + ["--width-factor", "3"], 192, True),
    ("llama-hc2-tied", "llama", HC + ["--width-factor", "2", "--keep-tied"], 128, True),
    ("llama-hc2-ffn3", "llama", HC + ["--width-factor", "2", "--ffn-factor", "3"], 128, True),
    ("llama-lemon96", "llama",
     ["--method", "lemon", "--hidden", "96", "--heads", "12", "--kv-heads", "6", "--ffn", "200"],
     96, True),
    # 64 -> 100 is not a multiple: transformers' LlamaConfig also wants hidden % heads == 0
    ("llama-lemon100", "llama", ["--method", "lemon", "--hidden", "100", "--ffn", "268"], 100, True),
    ("llama-zeropad100", "llama",
     ["--method", "zeropad", "--hidden", "100", "--heads", "20", "--kv-heads", "10", "--ffn", "268"],
     100, True),
    ("llama-zeropad96", "llama",
     ["--method", "zeropad", "--hidden", "96", "--heads", "12", "--kv-heads", "6", "--ffn", "200"],
     96, True),  # grow claims EXACT for zero-padding of RMSNorm models
    ("gpt2-hc2", "gpt2", HC + ["--width-factor", "2"], 64, True),
    ("gpt2-hc3", "gpt2", HC + ["--width-factor", "3"], 96, True),
    ("gpt2-hc2-tied", "gpt2", HC + ["--width-factor", "2", "--keep-tied"], 64, True),
    ("gpt2-lemon48", "gpt2", ["--method", "lemon", "--hidden", "48", "--heads", "6", "--ffn", "150"],
     48, True),
    ("gpt2-lemon96", "gpt2", ["--method", "lemon", "--hidden", "96", "--heads", "12", "--ffn", "200"],
     96, True),
    ("gpt2-zeropad96", "gpt2",
     ["--method", "zeropad", "--hidden", "96", "--heads", "12", "--ffn", "200"], 96, False),
    ("bert-hc2", "bert", HC + ["--width-factor", "2"], 64, True),
    ("bert-hc3", "bert", HC + ["--width-factor", "3"], 96, True),
    ("bert-hc2-tied", "bert", HC + ["--width-factor", "2", "--keep-tied"], 64, True),
    ("bert-lemon96", "bert", ["--method", "lemon", "--hidden", "96", "--heads", "12", "--ffn", "192"],
     96, True),
    ("bert-zeropad96", "bert",
     ["--method", "zeropad", "--hidden", "96", "--heads", "12", "--ffn", "192"], 96, False),
]


def _ids(family, vocab, n=14, seed=3):
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, vocab, size=n).tolist()
    if family == "llama":
        ids[0] = 1  # BOS
    return ids


@pytest.fixture(scope="module")
def source_models(sources):
    cache = {}

    def get(family):
        if family not in cache:
            cache[family] = load_clean(sources[family])
        return cache[family]

    return get


@pytest.mark.parametrize("case_id,family,flags,hidden,exact", CASES, ids=[c[0] for c in CASES])
def test_expand_loads_and_preserves(tmp_path, sources, source_models, case_id, family, flags,
                                    hidden, exact):
    out = tmp_path / case_id
    run_grow("expand", sources[family], "-o", out, "--quiet", *flags)

    cfg = transformers.AutoConfig.from_pretrained(out)
    assert cfg.hidden_size == hidden, f"config hidden_size {cfg.hidden_size}, want {hidden}"
    src_cfg = transformers.AutoConfig.from_pretrained(sources[family])
    assert cfg.vocab_size == src_cfg.vocab_size
    assert cfg.num_hidden_layers == src_cfg.num_hidden_layers

    tensors, metas = read_tensors(out)
    for fname, meta in metas:
        assert meta is not None and meta.get("format") == "pt", f"{fname}: metadata {meta!r}"
    if "--keep-tied" in flags:
        assert HEAD[family] not in tensors, f"--keep-tied wrote a separate {HEAD[family]}"
        assert cfg.tie_word_embeddings is True
    elif "--width-factor" in flags:
        assert HEAD[family] in tensors, f"default HyperCloning output has no {HEAD[family]}"
        assert cfg.tie_word_embeddings is False, "untied head written but config says tied"

    grown = load_clean(out)
    n_src = sum(p.numel() for p in source_models(family).parameters())
    n_out = sum(p.numel() for p in grown.parameters())
    assert n_out > n_src, f"grown model has {n_out} parameters, source {n_src}"

    ids = _ids(family, src_cfg.vocab_size)
    got = hf_outputs(grown, ids)
    want = hf_outputs(source_models(family), ids)
    assert np.isfinite(got).all(), "grown model gives non-finite logits"
    scale = float(np.max(np.abs(want)))
    assert scale > 1e-2, f"source logits are ~0 ({scale:.3g}); the comparison proves nothing"
    if exact:
        d = max_abs(got, want, f"expand {case_id}: transformers grown vs source", TOL)
        assert d <= TOL, (f"{case_id}: transformers' logits on the grown model differ from the "
                          f"source's by {d:.3g} > {TOL} (max |logits| {scale:.3g})")

    # grow's own forward pass on the grown model agrees with transformers' on it.
    d = max_abs(grow_probe(out, ids), got, f"expand {case_id}: grow probe vs transformers", TOL)
    assert d <= TOL, f"{case_id}: grow probe vs transformers on the grown model: {d:.3g}"


def test_expand_records_mapping(tmp_path, sources):
    """The operator's provenance and hidden-state mapping are in every shard's metadata."""
    out = tmp_path / "hc2"
    run_grow("expand", sources["gpt2"], "-o", out, "--quiet", *HC, "--width-factor", "2")
    _, metas = read_tensors(out)
    for fname, meta in metas:
        assert "grow.operator" in meta, f"{fname}: no grow.operator in {sorted(meta)}"
        assert "grow.mapping" in meta, f"{fname}: no grow.mapping in {sorted(meta)}"
        json.loads(meta["grow.mapping"])


def test_expand_bf16_equals_rounded_source(tmp_path, sources):
    """HyperCloning ×2 to BF16 computes what the source rounded to BF16 once computes."""
    out = tmp_path / "hc2-bf16"
    run_grow("expand", sources["llama"], "-o", out, "--quiet", *HC, "--width-factor", "2",
             "--dtype", "bf16")
    tensors, _ = read_tensors(out)
    assert {t.dtype for t, _ in tensors.values()} == {torch.bfloat16}
    grown = load_clean(out)
    ref = load_clean(sources["llama"])
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    ids = _ids("llama", 512)
    got, want = hf_outputs(grown, ids), hf_outputs(ref, ids)
    d = max_abs(got, want, "expand llama-hc2-bf16: transformers grown vs BF16 source", TOL)
    assert d <= TOL, f"BF16 HyperCloning differs from the BF16-rounded source by {d:.3g}"


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_expand_noise_keeps_function(tmp_path, sources, source_models, family):
    """--noise-snr-db breaks the symmetry between copies and keeps the function."""
    plain, noisy = tmp_path / "plain", tmp_path / "noisy"
    run_grow("expand", sources[family], "-o", plain, "--quiet", *HC, "--width-factor", "2")
    run_grow("expand", sources[family], "-o", noisy, "--quiet", *HC, "--width-factor", "2",
             "--noise-snr-db", "20", "--seed", "3")
    a, _ = read_tensors(plain)
    b, _ = read_tensors(noisy)
    changed = [k for k in a if not torch.equal(a[k][0], b[k][0])]
    assert changed, "--noise-snr-db 20 changed no tensor"
    grown = load_clean(noisy)
    src_cfg = transformers.AutoConfig.from_pretrained(sources[family])
    ids = _ids(family, src_cfg.vocab_size)
    got, want = hf_outputs(grown, ids), hf_outputs(source_models(family), ids)
    d = max_abs(got, want, f"expand {family}-hc2-noise20: transformers grown vs source", TOL)
    assert d <= TOL, f"noisy HyperCloning changed the logits by {d:.3g}"
