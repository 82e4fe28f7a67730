#!/usr/bin/env bash
# Benchmark of grow's pure-Go tokenizers against Hugging Face's tokenizers library (Rust, through its
# Python package in the interop virtualenv, one thread) on the same text in the same run: the stories
# corpus (testdata/reference/stories-corpus.txt, 111,420 bytes) encoded with the three real tokenizers
# of testdata, as one text and story by story, best of RUNS runs each, in MB per second of process CPU
# time (user + system: other load on the machine does not count). The limit of issue 11:
# grow's throughput ≥ 0.5 × the library's in every row.
# Usage: bench/tokenize.sh   (GROW_PYTHON: the interpreter, default ~/.cache/grow/venv/bin/python;
#                             RUNS: runs per measurement, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${GROW_PYTHON:-$HOME/.cache/grow/venv/bin/python}
RUNS=${RUNS:-5}
TEXT=testdata/reference/stories-corpus.txt
BIN=$(mktemp -d -t growtok.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/tokenize" ./bench/tokenize
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
fail=0
printf '%-22s %-10s %8s %8s %10s %10s %6s\n' tokenizer mode "grow tok" "HF tok" "grow MB/s" "HF MB/s" ratio
for m in gpt2-random-realtok bert-random-realtok stories260k; do
  go_out=$("$BIN/tokenize" -runs "$RUNS" "testdata/$m" "$TEXT")
  hf_out=$("$PY" - "testdata/$m/tokenizer.json" "$TEXT" "$RUNS" <<'PYEOF'
import sys, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
text = open(sys.argv[2], encoding="utf-8").read()
size = len(text.encode("utf-8"))
paras = text.split("\n\n")
for mode in ["whole", "paragraphs"]:
    best, n = 1e9, 0
    for _ in range(int(sys.argv[3])):
        t0 = time.process_time()
        if mode == "whole":
            n = len(tok.encode(text).ids)
        else:
            n = sum(len(tok.encode(p).ids) for p in paras)
        best = min(best, time.process_time() - t0)
    print(mode, n, f"{size / best / 1e6:.3f}")
PYEOF
)
  while read -r mode gn gmb; do
    read -r hmode hn hmb <<<"$(grep "^$mode " <<<"$hf_out")"
    ratio=$(awk -v a="$gmb" -v b="$hmb" 'BEGIN{printf "%.2f", a/b}')
    ok=$(awk -v r="$ratio" 'BEGIN{print (r >= 0.5) ? "" : "  BELOW 0.5"}')
    [ "$gn" = "$hn" ] || ok="$ok  TOKEN COUNTS DIFFER"
    [ -z "$ok" ] || fail=1
    printf '%-22s %-10s %8s %8s %10s %10s %6s%s\n' "$m" "$mode" "$gn" "$hn" "$gmb" "$hmb" "$ratio" "$ok"
  done <<<"$go_out"
done
exit $fail
