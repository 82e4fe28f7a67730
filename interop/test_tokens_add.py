"""`grow tokens add` against transformers: the extended checkpoint and tokenizer load without a
complaint and consistently (vocab_size covers every id, added tokens keep their ids on reload, special
tokens are flagged), transformers' tokenizer encodes like grow's (new tokens included), old-token
logits are unchanged, and greedy continuation of old ids is unchanged with convex output rows."""

import json
import random

import numpy as np
import pytest
import torch
import transformers
from transformers import AutoTokenizer

from growhf import TESTDATA, load_clean, hf_outputs, run_grow
from test_tokens import compare, random_text

CASES = {
    # model → (vocabulary tokens, an added phrase, masked LM)
    "stories260k": (["went", " Sara", "wanted", "élan"], "Tim and Sara", False),
    "gpt2-random-realtok": ([" photosynthesis", " chlorophyll", "Grow"], " New York", False),
    "bert-random-realtok": (["photosynthesis", "chlorophyll"], "New York", True),
}


def extend(model, tmp_path, method="fvt", pad=64):
    words, phrase, _ = CASES[model]
    recipe = {"tokens": [{"text": w} for w in words] + [
        {"text": phrase},
        {"text": "<|im_end|>", "special": True, "role": "eos_extra"},
        {"text": "<|tool|>", "special": True, "init": "from-text:tool"},
    ], "defaults": {"init": {"input": method, "output": "mean"}}, "pad_to_multiple_of": pad}
    r = tmp_path / "recipe.json"
    r.write_text(json.dumps(recipe), encoding="utf-8")
    out = tmp_path / f"{model}-{method}"
    run_grow("tokens", "add", TESTDATA / model, "-o", out, "--recipe", r, "--quiet")
    return out, json.loads((out / "embedding_changes.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("model", list(CASES))
def test_extended_loads_consistently(model, tmp_path):
    out, changes = extend(model, tmp_path)
    words, phrase, mlm = CASES[model]
    cls = transformers.AutoModelForMaskedLM if mlm else None
    hf = load_clean(out, cls=cls)
    tok = AutoTokenizer.from_pretrained(out)
    rows = hf.get_input_embeddings().weight.shape[0]
    assert hf.config.vocab_size == rows == changes["rows_after"]
    assert rows % 64 == 0
    new = [t for t in changes["tokens"] if not t.get("padding")]
    max_id = max(t["id"] for t in new)
    assert len(tok) == max_id + 1 <= rows, f"len(tokenizer) {len(tok)}, max id {max_id}, rows {rows}"
    # Every new token has its id in transformers' tokenizer; added ones are flagged as in the file.
    dec = tok.added_tokens_decoder
    for t in new:
        if t.get("mode") == "added":
            assert t["id"] in dec and dec[t["id"]].content == t["token"], (t, dec.get(t["id"]))
            assert dec[t["id"]].special == bool(t.get("special")), t
        else:
            assert tok.convert_tokens_to_ids(t["token"]) == t["id"], t
    # The vocabulary words are one token each, where they stand in a text.
    for t in new:
        if t.get("mode") == "vocab" and not t.get("intermediate_of"):
            assert t["id"] in tok(t["text"], add_special_tokens=False)["input_ids"], t
    gen = json.loads((out / "generation_config.json").read_text())
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert im_end in gen["eos_token_id"], gen
    # Saved and reloaded by transformers, the added tokens keep their ids.
    again = tmp_path / "resaved"
    tok.save_pretrained(again)
    tok2 = AutoTokenizer.from_pretrained(again)
    for t in new:
        assert tok2.convert_tokens_to_ids(t["token"] if t.get("mode") == "vocab" else t["token"]) == t["id"], t
    # grow's tokenizer and transformers' agree on random texts with the new tokens in them.
    rng = random.Random(11)
    pieces = words + [phrase, "<|im_end|>", "<|tool|>"]
    batch = []
    for _ in range(150):
        parts = [random_text(rng) for _ in range(2)]
        batch.append(parts[0] + rng.choice(pieces) + " " + rng.choice(pieces) + parts[1])
    compare(f"{model} extended", tok, out, batch, tmp_path)


@pytest.mark.parametrize("method", ["zero", "random", "mean", "mvn", "fvt"])
def test_old_logits_unchanged(method, tmp_path):
    model = "gpt2-random-realtok"
    out, _ = extend(model, tmp_path, method=method)
    src, ext = load_clean(TESTDATA / model), load_clean(out)
    ids = [7454, 2402, 257, 640, 11, 612, 373, 257, 1310, 3290, 13, 50256, 0]
    a, b = hf_outputs(src, ids), hf_outputs(ext, ids)
    assert np.array_equal(a, b[:, :a.shape[1]]), f"{method}: old logits changed by {np.max(np.abs(a - b[:, :a.shape[1]]))}"


# Greedy continuation of the reference prompts (old ids) is unchanged when the new output rows are the
# mean or convex combinations (fvt): a new token's logit is then at most the largest old one.
@pytest.mark.parametrize("method", ["mean", "fvt"])
def test_greedy_unchanged(method, tmp_path):
    ref = json.loads((TESTDATA / "reference" / "stories260k-logits.json").read_text())
    out, _ = extend("stories260k", tmp_path, method=method)
    src, ext = load_clean(TESTDATA / "stories260k"), load_clean(out)
    for p in ref["prompts"]:
        x = torch.tensor([p["ids"]])
        with torch.no_grad():
            a = src.generate(x, max_new_tokens=64, do_sample=False, pad_token_id=0)
            b = ext.generate(x, max_new_tokens=64, do_sample=False, pad_token_id=0)
        assert a.tolist() == b.tolist(), f"{method}: {p['text']!r} continues differently"
        assert a[0, len(p["ids"]):].tolist() == p["greedy_continuation"]


def test_sentencepiece_model_extended(tmp_path):
    """The SentencePiece model beside stories260k's tokenizer.json is extended too: the SentencePiece
    library loads it, vocabulary tokens are NORMAL pieces at their ids that it produces exactly where
    tokenizers produces them (random texts), added tokens are USER_DEFINED pieces at their ids, and the
    old pieces are unchanged."""
    import sentencepiece as spm
    from tokenizers import Tokenizer

    src = TESTDATA / "stories260k"
    words = [" dragon", " wizard", "ville"]
    args = []
    for w in words:
        args += ["--token", w]
    vocab = tmp_path / "vocab"
    run_grow("tokens", "add", src, "-o", vocab, "--mode", "vocab", "--quiet", *args)
    old = spm.SentencePieceProcessor(model_file=str(src / "tokenizer.model"))
    sp = spm.SentencePieceProcessor(model_file=str(vocab / "tokenizer.model"))
    hf = Tokenizer.from_file(str(vocab / "tokenizer.json"))
    changes = json.loads((vocab / "embedding_changes.json").read_text(encoding="utf-8"))
    new = [t for t in changes["tokens"] if not t.get("padding")]
    assert sp.get_piece_size() == old.get_piece_size() + len(new)
    for i in range(old.get_piece_size()):
        assert (sp.id_to_piece(i), sp.get_score(i)) == (old.id_to_piece(i), old.get_score(i)), i
    for t in new:
        assert sp.piece_to_id(t["token"]) == t["id"], t
        assert not sp.is_control(t["id"]) and not sp.is_unknown(t["id"]), t
    rng = random.Random(5)
    vocabulary = ["dragon", "wizard", "Lily", "the", "a", "big", "dragons", "wizardry", "Sara", "ville", "Townville", "."]
    for _ in range(300):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 12)))
        want = hf.encode(text).ids
        want = want[1:] if want and want[0] == 1 else want  # tokenizer.json adds BOS; SentencePiece does not
        assert sp.encode(text) == want, text

    added = tmp_path / "added"
    run_grow("tokens", "add", src, "-o", added, "--token", "<|im_start|>", "--special", "--quiet")
    sp = spm.SentencePieceProcessor(model_file=str(added / "tokenizer.model"))
    i = sp.piece_to_id("<|im_start|>")
    assert i == old.get_piece_size() and sp.get_piece_size() == i + 1
    assert sp.encode("Lily<|im_start|>") == old.encode("Lily") + [i]
