"""`grow shrink` (weight selection) output loads in transformers without a warning for every
registered model type, transformers' logits on the student equal grow probe's within 1e-4
(the student runs the same in both engines), every student tensor is the teacher's at the index
sets the metadata records (checked here by name, through safetensors, for the Llama layout), and
the uniform index rule's table in select/testdata equals what the installed PyTorch computes."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import transformers

from growhf import (REPO, TESTDATA, grow_probe, hf_outputs, load_clean, max_abs, randomize,
                    read_tensors, run_grow)

TOL = 1e-4
TOKENS = dict(vocab_size=150, bos_token_id=1, eos_token_id=2, pad_token_id=0)
LLAMA_LIKE = dict(hidden_size=32, intermediate_size=72, num_hidden_layers=3, num_attention_heads=4,
                  max_position_embeddings=64, **TOKENS)

MODELS = {
    "gpt2": (transformers.GPT2Config, transformers.GPT2LMHeadModel,
             dict(vocab_size=150, n_embd=32, n_head=4, n_layer=3, n_positions=64, bos_token_id=1,
                  eos_token_id=2)),
    "bert": (transformers.BertConfig, transformers.BertForMaskedLM,
             dict(vocab_size=150, hidden_size=32, num_attention_heads=4, num_hidden_layers=3,
                  intermediate_size=64, max_position_embeddings=64, pad_token_id=0)),
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
              dict(LLAMA_LIKE, num_key_value_heads=2, tie_word_embeddings=False)),
    "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM,
                dict(LLAMA_LIKE, num_key_value_heads=2, tie_word_embeddings=True,
                     sliding_window=None)),
    "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM,
              dict(LLAMA_LIKE, num_key_value_heads=2, head_dim=12, tie_word_embeddings=False)),
    "phi3": (transformers.Phi3Config, transformers.Phi3ForCausalLM,
             dict(LLAMA_LIKE, num_key_value_heads=2, tie_word_embeddings=False)),
    "gemma": (transformers.GemmaConfig, transformers.GemmaForCausalLM,
              dict(LLAMA_LIKE, num_key_value_heads=2, head_dim=12)),
    "gpt_neox": (transformers.GPTNeoXConfig, transformers.GPTNeoXForCausalLM,
                 dict(LLAMA_LIKE)),
    "opt": (transformers.OPTConfig, transformers.OPTForCausalLM,
            dict(vocab_size=150, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                 max_position_embeddings=64, ffn_dim=72, bos_token_id=1, eos_token_id=2,
                 pad_token_id=0)),
    "olmo2": (transformers.Olmo2Config, transformers.Olmo2ForCausalLM,
              dict(LLAMA_LIKE, num_key_value_heads=2)),
}

CALIB = REPO / "select" / "testdata" / "stories-calib.ids"
# ids inside a 150-token vocabulary, for the synthetic teachers
CALIB_SMALL = REPO / "select" / "testdata" / "synthetic-calib.ids"

# (id, model, grow shrink flags, student hidden, layers)
CASES = [
    ("llama-issue-uniform", "llama",
     ["--hidden", "32", "--heads", "4", "--kv-heads", "2", "--ffn", "86", "--layers", "3",
      "--layers-from", "uniform"], 32, 3),
    ("llama-importance", "llama",
     ["--hidden", "32", "--heads", "4", "--kv-heads", "2", "--ffn", "86", "--layers", "3",
      "--elements", "importance", "--layers-from", "importance", "--calib-ids", CALIB], 32, 3),
    ("gpt2-last", "gpt2", ["--hidden", "16", "--ffn", "40", "--layers", "2", "--layers-from", "last"],
     16, 2),
    ("bert-random", "bert", ["--hidden", "24", "--ffn", "40", "--elements", "random:1"], 24, 3),
    ("qwen2-gqa-bias", "qwen2", ["--hidden", "16", "--heads", "2", "--kv-heads", "1", "--ffn", "30",
                                 "--layer-map", "2,0"], 16, 2),
    ("mistral-tied", "mistral", ["--hidden", "24", "--heads", "2", "--kv-heads", "1", "--ffn", "50"],
     24, 3),
    ("qwen3-head-dim-12", "qwen3", ["--hidden", "20", "--heads", "2", "--kv-heads", "1",
                                    "--ffn", "36", "--elements", "first"], 20, 3),
    ("phi3-fused", "phi3", ["--hidden", "16", "--heads", "2", "--kv-heads", "1", "--ffn", "40",
                            "--layers", "2", "--layers-from", "uniform"], 16, 2),
    ("gemma-tied-scaled", "gemma", ["--hidden", "16", "--heads", "2", "--kv-heads", "1",
                                    "--ffn", "40"], 16, 3),
    ("neox-parallel", "gpt_neox", ["--hidden", "16", "--ffn", "40", "--elements", "random:2"],
     16, 3),
    ("opt-learned-positions", "opt", ["--hidden", "24", "--ffn", "50", "--layers", "2"], 24, 2),
    ("olmo2-whole-qk-norm", "olmo2", ["--hidden", "16", "--heads", "2", "--kv-heads", "1",
                                      "--ffn", "40", "--elements", "importance",
                                      "--calib-ids", CALIB_SMALL], 16, 3),
]

IDS = [1] + np.random.default_rng(12).integers(3, 150, size=15).tolist()


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    cache = {"llama": TESTDATA / "stories260k"}

    def get(name):
        if name not in cache:
            cfg_cls, model_cls, extra = MODELS[name]
            torch.manual_seed(21)
            m = model_cls(cfg_cls(**extra))
            randomize(m, 21)
            d = tmp_path_factory.mktemp(name) / "model"
            m.save_pretrained(d, safe_serialization=True)
            cache[name] = d
        return cache[name]

    return get


@pytest.mark.parametrize("case_id,name,flags,hidden,layers", CASES, ids=[c[0] for c in CASES])
def test_shrink_loads_and_runs(tmp_path, teacher, case_id, name, flags, hidden, layers):
    src = teacher(name)
    out = tmp_path / case_id
    p = run_grow("shrink", src, "-o", out, *flags)
    assert "bit for bit" in p.stdout, p.stdout[-2000:]
    cfg = transformers.AutoConfig.from_pretrained(out)
    assert cfg.hidden_size == hidden and cfg.num_hidden_layers == layers, cfg
    tied = transformers.AutoConfig.from_pretrained(src).tie_word_embeddings
    assert cfg.tie_word_embeddings == tied, "the tie changed"
    model = load_clean(out)
    ids = IDS if name != "llama" else [1, 403, 407, 261, 378, 432, 383, 286, 261, 376]
    want = hf_outputs(model, ids)
    assert np.isfinite(want).all()
    d = max_abs(grow_probe(out, ids), want, f"shrink {case_id}: grow probe vs transformers", TOL)
    assert d <= TOL, f"{case_id}: grow probe vs transformers {d:.3g}"
    meta = read_tensors(out)[1][0][1]
    params = json.loads(meta["grow.params"])
    assert params["method"] == "shrink" and len(params["selection"]["layers"]) == layers
    assert json.loads(meta["grow.mapping"])["class"] == "NON-PRESERVING"


def _per_layer(v, i):
    return v[i] if v and isinstance(v[0], list) else v


@pytest.mark.parametrize("flags", [
    ["--layers-from", "uniform"],
    ["--elements", "importance", "--layers-from", "importance", "--calib-ids", CALIB],
    ["--elements", "random:9", "--layer-map", "4,0,2"],
], ids=["uniform", "importance", "random-map"])
def test_shrink_entries_are_teacher_entries(tmp_path, flags):
    """Every Llama student tensor equals the teacher's at the recorded indices (torch.equal)."""
    out = tmp_path / "s"
    run_grow("shrink", TESTDATA / "stories260k", "-o", out, "--quiet", "--hidden", "32",
             "--heads", "4", "--kv-heads", "2", "--ffn", "86", "--layers", "3", *flags)
    src, _ = read_tensors(TESTDATA / "stories260k")
    dst, metas = read_tensors(out)
    sel = json.loads(metas[0][1]["grow.params"])["selection"]
    hid = torch.tensor(sel["hidden"])
    d = 8

    def rows(units):
        return torch.tensor([u * d + j for u in units for j in range(d)])

    assert set(dst) == {k for k in src if not k.startswith("model.layers.")
                        or int(k.split(".")[2]) < 3}
    assert torch.equal(dst["model.embed_tokens.weight"][0],
                       src["model.embed_tokens.weight"][0][:, hid])
    assert torch.equal(dst["model.norm.weight"][0], src["model.norm.weight"][0][hid])
    for i, t in enumerate(sel["layers"]):
        q, kv = rows(_per_layer(sel["heads"], i)), rows(_per_layer(sel["kv_heads"], i))
        f = torch.tensor(_per_layer(sel["ffn"], i))

        def s(n):
            return src[f"model.layers.{t}.{n}"][0]

        want = {
            "input_layernorm.weight": s("input_layernorm.weight")[hid],
            "post_attention_layernorm.weight": s("post_attention_layernorm.weight")[hid],
            "self_attn.q_proj.weight": s("self_attn.q_proj.weight")[q][:, hid],
            "self_attn.k_proj.weight": s("self_attn.k_proj.weight")[kv][:, hid],
            "self_attn.v_proj.weight": s("self_attn.v_proj.weight")[kv][:, hid],
            "self_attn.o_proj.weight": s("self_attn.o_proj.weight")[hid][:, q],
            "mlp.gate_proj.weight": s("mlp.gate_proj.weight")[f][:, hid],
            "mlp.up_proj.weight": s("mlp.up_proj.weight")[f][:, hid],
            "mlp.down_proj.weight": s("mlp.down_proj.weight")[hid][:, f],
        }
        for n, w in want.items():
            assert torch.equal(dst[f"model.layers.{i}.{n}"][0], w), f"layer {i} {n}"


def test_uniform_table_matches_torch():
    """select/testdata/uniform-torch.txt (which select's Go tests hold grow's rule to) is what
    torch.round(torch.linspace(...)) gives with the installed PyTorch."""
    script = REPO / "select" / "testdata" / "uniform_torch.py"
    p = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr


def test_story_ids_are_the_tokenizers():
    """select/testdata/stories-*.ids are the corpus' stories as the model's tokenizer encodes
    them."""
    sys.path.insert(0, str(REPO / "select" / "testdata"))
    try:
        import make_ids
    finally:
        sys.path.pop(0)
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(TESTDATA / "stories260k" / "tokenizer.json"))
    st = make_ids.stories()
    for name, part in [("stories-calib.ids", st[:100]), ("stories-eval.ids", st[100:])]:
        lines = (REPO / "select" / "testdata" / name).read_text().splitlines()
        assert lines == [",".join(map(str, make_ids.ids(tok, s))) for s in part], name
