"""grow's pure-Go tokenizers (`grow tokens encode`) against transformers' AutoTokenizer on
random texts, for the three real tokenizers of testdata: every id equal."""

import json
import random
import re
import shutil

import pytest
from transformers import AutoTokenizer

from growhf import TESTDATA, run_grow

N_TEXTS = 400

WORDS = ["the", "The", "Once", "upon", "a", "time", "little", "girl", "named", "Lily", "dog", "park",
         "Tim", "went", "don't", "I'm", "you're", "it's", "HELLO", "MiXeD", "naïve", "café", "résumé",
         "straße", "Über", "Привет", "мир", "日本語", "中文", "😀", "👨\u200d👩\u200d👧", "e-mail",
         "someone@example.com", "https://huggingface.co/docs", "3.14159", "2024-06-30", "1,234,567",
         "supercalifragilisticexpialidocious", "a" * 120, "x" * 101, "über" * 30]
SPECIAL = ["<s>", "</s>", "<unk>", "<|endoftext|>", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\u00a0", "\u2000", "\u3000",
          "\u200b", "\u2028", "\x0b", "\x0c", "\x85"]
PUNCT = list(".,;:!?'\"()[]{}<>-_/\\|@#$%^&*+=~`…—–“”‘’«»¿¡©®™€£¥§¶") + ["'s", "'S", "'ll", "'RE", "'ve",
                                                                    "'d", "'m", "'t", "...", "?!"]


def random_char(rng):
    r = rng.random()
    if r < 0.3:
        return chr(rng.randint(0x20, 0x7e))
    if r < 0.45:
        return chr(rng.randint(0xa0, 0x24f))
    if r < 0.55:
        return chr(rng.choice([rng.randint(0x300, 0x36f), rng.randint(0x400, 0x4ff), rng.randint(0x590, 0x6ff),
                               rng.randint(0x900, 0x97f), rng.randint(0xe00, 0xe7f)]))
    if r < 0.65:
        return chr(rng.randint(0x3040, 0x30ff) if rng.random() < 0.5 else rng.randint(0x4e00, 0x9fff))
    if r < 0.75:
        return chr(rng.randint(0x1f300, 0x1faff))
    if r < 0.85:
        return chr(rng.choice([0x0, 0x1, 0x7, 0x1b, 0x7f, 0xad, 0xfeff, 0xfffd, 0x2060, 0x202e, 0xe000, 0x10ffff]))
    return chr(rng.randint(0x20, 0x2fff))


def random_text(rng):
    parts = []
    for _ in range(rng.randint(0, 24)):
        r = rng.random()
        if r < 0.35:
            parts.append(rng.choice(WORDS))
        elif r < 0.55:
            parts.append(rng.choice(SPACES))
        elif r < 0.7:
            parts.append(rng.choice(PUNCT))
        elif r < 0.78:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
        elif r < 0.83:
            parts.append(rng.choice(SPECIAL))
        else:
            parts.append("".join(random_char(rng) for _ in range(rng.randint(1, 6))))
    return "".join(parts)


def texts():
    rng = random.Random(20240611)
    return [random_text(rng) for _ in range(N_TEXTS)]


def grow_encode(model_dir, batch, tmp_path):
    f = tmp_path / "texts.json"
    f.write_text(json.dumps(batch), encoding="utf-8")
    out = run_grow("tokens", "encode", model_dir, "--texts-file", f).stdout.splitlines()
    assert len(out) == len(batch), f"grow printed {len(out)} lines for {len(batch)} texts"
    return [json.loads(line)["ids"] for line in out]


def compare(name, tok, model_dir, batch, tmp_path):
    got = grow_encode(model_dir, batch, tmp_path)
    bad = []
    for text, ids in zip(batch, got):
        want = tok(text)["input_ids"]
        if ids != want:
            bad.append(f"{text!r}:\n  grow         {ids}\n  transformers {want}")
    assert not bad, f"{name}: {len(bad)} of {len(batch)} texts differ, first:\n" + "\n".join(bad[:3])


@pytest.mark.parametrize("model", ["gpt2-random-realtok", "bert-random-realtok"])
def test_encode_matches_autotokenizer(model, tmp_path):
    tok = AutoTokenizer.from_pretrained(TESTDATA / model)
    compare(model, tok, TESTDATA / model, texts(), tmp_path)


# transformers 5 loads stories260k (tokenizer_class LlamaTokenizerFast) as LlamaTokenizer, which
# rebuilds the normalizer as stock Llama-2's instead of reading tokenizer.json's (that one also drops
# leading spaces, collapses runs of spaces and drops trailing ones, as SentencePiece with
# remove_extra_whitespaces does: testdata/stories260k/PROVENANCE.md). With tokenizer_class
# PreTrainedTokenizerFast, AutoTokenizer takes tokenizer.json as it is: that is what grow must equal
# on every text. The Llama class itself must agree wherever the two normalizers do.
def test_encode_matches_autotokenizer_stories(tmp_path):
    src = TESTDATA / "stories260k"
    copy = tmp_path / "stories260k"
    copy.mkdir()
    for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(src / f, copy / f)
    cfg = json.loads((copy / "tokenizer_config.json").read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    (copy / "tokenizer_config.json").write_text(json.dumps(cfg))
    batch = texts()
    fast = AutoTokenizer.from_pretrained(copy)
    assert type(fast).__name__ in ("TokenizersBackend", "PreTrainedTokenizerFast")
    compare("stories260k (tokenizer.json as it is)", fast, src, batch, tmp_path)

    llama = AutoTokenizer.from_pretrained(src)
    plain = [t for t in batch
             if not re.search(r"(^|<s>|</s>|<unk>) | {2}| ($|<s>|</s>|<unk>)", t)]
    assert len(plain) > N_TEXTS // 4
    compare("stories260k (transformers' LlamaTokenizer)", llama, src, plain, tmp_path)


LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
          r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")


def variant(tmp_path, src, name, edit):
    """A copy of src's tokenizer.json with edit applied to its JSON, in tmp_path/name."""
    d = tmp_path / name
    d.mkdir()
    doc = json.loads((TESTDATA / src / "tokenizer.json").read_text(encoding="utf-8"))
    edit(doc)
    (d / "tokenizer.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return d


def llama3(pattern, ignore_merges):
    def edit(doc):
        doc["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
        doc["model"]["ignore_merges"] = ignore_merges
        doc["post_processor"] = {"type": "TemplateProcessing",
                                 "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                            {"Sequence": {"id": "A", "type_id": 0}}],
                                 "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                          {"Sequence": {"id": "B", "type_id": 1}}],
                                 "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [50256],
                                                                      "tokens": ["<|endoftext|>"]}}}
    return edit


def metaspace(scheme, split):
    def edit(doc):
        doc["normalizer"] = None
        doc["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme,
                                "split": split}
    return edit


def set_keys(**kv):
    def edit(doc):
        for path, v in kv.items():
            d = doc
            keys = path.split("__")
            for k in keys[:-1]:
                d = d[k]
            d[keys[-1]] = v
    return edit


def pre(*pts):
    return set_keys(pre_tokenizer={"type": "Sequence", "pretokenizers": list(pts)} if len(pts) > 1 else pts[0])


BYTELEVEL_NOREGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}


# The pre-tokenizers the testdata tokenizers do not use, on variants of them, against the tokenizers
# library itself (what transformers' fast tokenizers run): the Llama-3 and Qwen2 regexes (hand-written
# scanners in grow, since Go's regexp has no lookahead) with ignore_merges, and Metaspace (Llama-2
# converted with legacy=False, Mistral).
@pytest.mark.parametrize("name,src,edit", [
    ("llama3", "gpt2-random-realtok", llama3(LLAMA3, True)),
    ("qwen2", "gpt2-random-realtok", llama3(QWEN2, False)),
    ("metaspace-first", "stories260k", metaspace("first", False)),
    ("metaspace-always-split", "stories260k", metaspace("always", True)),
    ("metaspace-never-split", "stories260k", metaspace("never", True)),
    ("gpt2-prefix-space", "gpt2-random-realtok", set_keys(pre_tokenizer__add_prefix_space=True)),
    ("gpt2-digits", "gpt2-random-realtok", pre({"type": "Digits", "individual_digits": True},
                                                {"type": "ByteLevel", "add_prefix_space": False,
                                                 "trim_offsets": True, "use_regex": True})),
    ("gpt2-split-merged-next", "gpt2-random-realtok", pre(
        {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
        BYTELEVEL_NOREGEX)),
    ("gpt2-split-merged-previous", "gpt2-random-realtok", pre(
        {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
        BYTELEVEL_NOREGEX)),
    ("gpt2-punct-contiguous", "gpt2-random-realtok", pre(
        {"type": "Punctuation", "behavior": "Contiguous"}, {"type": "WhitespaceSplit"}, BYTELEVEL_NOREGEX)),
    ("gpt2-nfkc", "gpt2-random-realtok", set_keys(normalizer={"type": "NFKC"})),
    ("bert-cased", "bert-random-realtok", set_keys(normalizer={"type": "BertNormalizer", "clean_text": True,
                                                               "handle_chinese_chars": True,
                                                               "strip_accents": None, "lowercase": False})),
    ("bert-whitespace-nfd-lower", "bert-random-realtok", lambda doc: (
        set_keys(normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"},
                                                                 {"type": "Lowercase"},
                                                                 {"type": "Strip", "strip_left": True, "strip_right": True}]})(doc),
        pre({"type": "Whitespace"})(doc))),
])
def test_encode_matches_tokenizers_variants(name, src, edit, tmp_path):
    from tokenizers import Tokenizer
    d = variant(tmp_path, src, name, edit)
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    compare(name, lambda t: {"input_ids": tok.encode(t).ids}, d, texts(), tmp_path)
