"""Writes stories-calib.ids and stories-eval.ids: the 200 stories of
testdata/reference/stories-corpus.txt (blank-line separated) tokenized with
testdata/stories260k/tokenizer.json (BOS first, as the model was trained), one
story per line as comma-separated ids; stories 0-99 calibrate, 100-199 evaluate.
Run: python select/testdata/make_ids.py (needs the tokenizers package)."""

from pathlib import Path

from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def stories():
    text = (REPO / "testdata/reference/stories-corpus.txt").read_text(encoding="utf-8")
    return [s.strip("\n") for s in text.split("\n\n") if s.strip()]


def ids(tok, s):
    return tok.encode(s).ids  # the post-processor puts <s> (1) first


def main():
    tok = Tokenizer.from_file(str(REPO / "testdata/stories260k/tokenizer.json"))
    st = stories()
    assert len(st) == 200, len(st)
    for name, part in [("stories-calib.ids", st[:100]), ("stories-eval.ids", st[100:])]:
        lines = [",".join(str(i) for i in ids(tok, s)) for s in part]
        (HERE / name).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
