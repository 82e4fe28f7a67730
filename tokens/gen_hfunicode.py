"""Probes Hugging Face's tokenizers library (the Python package of the Rust library) for the
Unicode character classes it uses, for every code point, and writes them as JSON: BERT's
punctuation (BertPreTokenizer), the characters BertNormalizer's clean_text removes or turns into a
space, the marks BertNormalizer's strip_accents and the StripAccents normalizer remove, Lowercase's mapping, NFD
where it differs from Python's, and the \\p{L}, \\p{N} and \\s of the GPT-2 regex (Oniguruma).
gen_hfunicode.go turns the differences from Go's unicode tables into hfunicode.go.

    python gen_hfunicode.py hf.json && go run gen_hfunicode.go hf.json > hfunicode.go
"""
import sys, json, unicodedata
from tokenizers import normalizers, pre_tokenizers
bp = pre_tokenizers.BertPreTokenizer()
clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
low = normalizers.Lowercase()
sa = normalizers.StripAccents()
nfd = normalizers.NFD()
bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
res = {k: [] for k in ["punct","removed","space","mark","combining","lower","nfd","L","N","S"]}
for c in range(0x110000):
    if 0xD800 <= c <= 0xDFFF: continue
    ch = chr(c)
    r = bp.pre_tokenize_str("a"+ch+"b")
    if len(r) == 3: res["punct"].append(c)
    cl = clean.normalize_str("a"+ch+"b")
    if cl == "ab": res["removed"].append(c)
    elif cl == "a b" and ch != " ": res["space"].append(c)
    if strip.normalize_str(ch) == "" : res["mark"].append(c)
    if sa.normalize_str(ch) == "": res["combining"].append(c)
    l = low.normalize_str(ch)
    if l != ch: res["lower"].append([c, l])
    n = nfd.normalize_str(ch)
    if n != unicodedata.normalize("NFD", ch): res["nfd"].append([c, n])
    # Onig classes via the GPT-2 regex
    p1 = bl.pre_tokenize_str("a"+ch)
    p2 = bl.pre_tokenize_str("1"+ch)
    if len(p1) == 1: res["L"].append(c)
    elif len(p2) == 1: res["N"].append(c)
    p3 = bl.pre_tokenize_str("  "+ch)  # \s+(?!\S): if ch is space: one piece
    if len(p3) == 1: res["S"].append(c)
json.dump(res, open(sys.argv[1], "w"))
print({k: len(v) for k, v in res.items()})
