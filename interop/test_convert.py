"""`grow convert` output (F32, BF16, sharded) read by the official safetensors library and
loaded by transformers and tokenizers exactly as users load it (issue 2, item 8)."""

import json
import re

import pytest
import torch
import transformers

from growhf import TESTDATA, hf_outputs, load_clean, read_tensors, run_grow

MODELS = ["stories260k", "gpt2-random-realtok", "bert-random-realtok"]

# variant → extra grow convert flags
VARIANTS = {
    "f32": ["--dtype", "f32"],
    "bf16": ["--dtype", "bf16"],
    # A few KB per shard: every model here splits into at least 3 shards.
    "sharded": ["--max-shard-size", "4KB"],
}

SENTENCE = "Once upon a time, there was a little dog."

# Probe ids valid in every vocabulary here (stories260k has 512 tokens).
PROBE_IDS = {
    "stories260k": [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 400, 428, 426],
    "gpt2-random-realtok": [7454, 2402, 257, 640, 11, 612, 373, 257, 1310, 3290, 13],
    "bert-random-realtok": [101, 2320, 2588, 1037, 2051, 1010, 2045, 2001, 1037, 2210, 3899,
                            1012, 102],
}

SIDE_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
              "tokenizer.model", "vocab.json", "vocab.txt", "merges.txt",
              "generation_config.json")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(model, variant) → output directory, each converted once per module."""
    cache = {}

    def get(model, variant):
        key = (model, variant)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"{model}-{variant}") / "out"
            run_grow("convert", TESTDATA / model, "-o", out, "--quiet", *VARIANTS[variant])
            cache[key] = out
        return cache[key]

    return get


@pytest.fixture(scope="module")
def source_models():
    cache = {}

    def get(model):
        if model not in cache:
            cache[model] = load_clean(TESTDATA / model)
        return cache[model]

    return get


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("model", MODELS)
def test_safetensors_reads_every_tensor(converted, model, variant):
    out = converted(model, variant)
    src, _ = read_tensors(TESTDATA / model)
    got, metas = read_tensors(out)

    for fname, meta in metas:
        assert meta is not None and meta.get("format") == "pt", \
            f"{out.name}/{fname}: __metadata__ = {meta!r}, want format=pt"

    assert set(got) == set(src), (f"tensor names differ: missing {sorted(set(src) - set(got))}, "
                                  f"extra {sorted(set(got) - set(src))}")
    for name, (s, _) in src.items():
        g, fname = got[name]
        assert list(g.shape) == list(s.shape), f"{fname}:{name}: shape {list(g.shape)} != {list(s.shape)}"
        if variant == "bf16" and s.is_floating_point():
            want = s.to(torch.bfloat16)
        else:
            want = s
        assert g.dtype == want.dtype, f"{fname}:{name}: dtype {g.dtype}, want {want.dtype}"
        assert torch.equal(g, want), f"{fname}:{name}: values differ from the source"

    index_path = out / "model.safetensors.index.json"
    files = sorted(p.name for p in out.glob("*.safetensors"))
    if variant == "sharded":
        assert len(files) >= 3, f"--max-shard-size 4KB gave {len(files)} shard(s): {files}"
        n = len(files)
        assert files == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)], files
        assert index_path.exists(), "sharded output has no model.safetensors.index.json"
    else:
        assert files == ["model.safetensors"], files
    if index_path.exists():
        index = json.loads(index_path.read_text())
        wm = index["weight_map"]
        assert set(wm) == set(got), "index weight_map names differ from the shards' tensors"
        for name, fname in wm.items():
            assert re.fullmatch(r"[^/\\]+\.safetensors", fname), fname
            assert got[name][1] == fname, f"{name}: index says {fname}, found in {got[name][1]}"
        assert set(wm.values()) == set(files), "a shard is not named by the index (or vice versa)"
        total = sum(t.numel() * t.element_size() for t, _ in got.values())
        assert int(index["metadata"]["total_size"]) == total, \
            f"index total_size {index['metadata']['total_size']} != sum of tensor bytes {total}"


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("model", MODELS)
def test_transformers_loads(converted, source_models, model, variant):
    out = converted(model, variant)
    cfg_src = transformers.AutoConfig.from_pretrained(TESTDATA / model)
    cfg_out = transformers.AutoConfig.from_pretrained(out)
    assert cfg_out.architectures == cfg_src.architectures
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
                "intermediate_size", "num_key_value_heads", "tie_word_embeddings"):
        if hasattr(cfg_src, key):
            assert getattr(cfg_out, key) == getattr(cfg_src, key), f"config {key} changed"

    m = load_clean(out)
    # transformers really holds what the file holds (no silent re-initialisation).
    tensors, _ = read_tensors(out)
    sd = m.state_dict()
    for name, (t, fname) in tensors.items():
        assert name in sd, f"{fname}:{name} is not a parameter of {type(m).__name__}"
        assert torch.equal(sd[name], t.to(torch.float32)), f"{name}: loaded value differs from the file"

    ids = PROBE_IDS[model]
    src = source_models(model)
    if variant == "bf16":
        # The reference: the source with every weight rounded to BF16 once.
        ref = load_clean(TESTDATA / model)
        with torch.no_grad():
            for p in ref.parameters():
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
    else:
        ref = src
    got, want = hf_outputs(m, ids), hf_outputs(ref, ids)
    assert (got == want).all(), f"logits differ from the reference by {abs(got - want).max()}"
    if model.startswith("bert"):
        # Also through the masked-LM auto class (the head is cls.predictions either way).
        mlm = load_clean(out, cls=transformers.AutoModelForMaskedLM)
        assert (hf_outputs(mlm, ids) == want).all()


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("model", MODELS)
def test_tokenizer_and_side_files(converted, model, variant):
    out = converted(model, variant)
    for name in SIDE_FILES:
        s = TESTDATA / model / name
        if s.exists():
            o = out / name
            assert o.exists(), f"{name} was not carried over"
            if name != "generation_config.json":
                assert o.read_bytes() == s.read_bytes(), f"{name} changed"
    tok_src = transformers.AutoTokenizer.from_pretrained(TESTDATA / model)
    tok_out = transformers.AutoTokenizer.from_pretrained(out)
    enc = tok_out(SENTENCE)["input_ids"]
    assert len(enc) > 3
    assert enc == tok_src(SENTENCE)["input_ids"]
    assert tok_out.decode(enc, skip_special_tokens=True).strip().lower().replace(" ", "") == \
        SENTENCE.lower().replace(" ", "")
