"""Masked structural growth: the output of `grow expand --method msg` loads in transformers (its
masks are sidecars transformers does not read), and `grow msg bake` at mask 0 writes a plain
checkpoint that transformers loads without warnings and whose logits equal the source's (an
RMSNorm model grown in hidden size, heads, FFN and layers), in float32 within 1e-4."""

import transformers

from growhf import TESTDATA, hf_outputs, load_clean, max_abs, run_grow
from test_expand import _ids

TOL = 1e-4


def test_msg_bake_at_zero(tmp_path):
    src = TESTDATA / "stories260k"
    masked, plain = tmp_path / "msg", tmp_path / "plain"
    run_grow("expand", src, "-o", masked, "--quiet", "--method", "msg", "--hidden", "96", "--heads",
             "12", "--kv-heads", "6", "--ffn", "256", "--layers", "7")
    assert (masked / "grow_masks.safetensors").exists() and (masked / "grow_state.json").exists()
    load_clean(masked)  # the sidecars are not weights transformers would complain about
    run_grow("msg", "bake", masked, "-o", plain, "--quiet")
    assert not (plain / "grow_masks.safetensors").exists() and not (plain / "grow_state.json").exists()
    cfg = transformers.AutoConfig.from_pretrained(plain)
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size) == (96, 7, 256)
    ids = _ids("llama", cfg.vocab_size)
    got, want = hf_outputs(load_clean(plain), ids), hf_outputs(load_clean(src), ids)
    d = max_abs(got, want, "msg bake at 0: transformers plain vs source", TOL)
    assert d <= TOL, f"baked MSG differs from the source by {d:.3g}"
