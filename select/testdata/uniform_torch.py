"""The weight-selection reference code's uniform index rule, as PyTorch computes it: for a
teacher axis of T and a student axis of S, k*(T//S) when S divides T, else
torch.round(torch.linspace(0, T-1, S)) (round half to even). Writes uniform-torch.txt, one line
per (T, S) pair: "T S" and then, as "i:v", every index v where PyTorch's set differs from the
exact rule round_half_even(i*(T-1)/(S-1)) (float32 rounding of the linspace points moves them).
select's TestUniformTorch checks grow's rule against it; interop/test_shrink.py checks the file
against the installed PyTorch. Run: python select/testdata/uniform_torch.py [--check]."""

import random
import sys
from fractions import Fraction
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
FILE = HERE / "uniform-torch.txt"

# widths of released models: hidden sizes and FFN sizes with student sizes a shrink would ask
MODEL_PAIRS = [(768, 512), (768, 384), (1024, 768), (2048, 1536), (2048, 1024), (4096, 3072),
               (4096, 2048), (4096, 2560), (896, 640), (5120, 4096), (3072, 2048), (3072, 1536),
               (11008, 5632), (11008, 8192), (14336, 8192), (14336, 9216), (4864, 3584),
               (8192, 5461), (13824, 11008), (172, 86), (172, 100), (64, 48), (64, 40),
               (151936, 100000)]


def pairs():
    out = [(t, s) for t in range(1, 65) for s in range(1, t + 1)]
    out += MODEL_PAIRS
    rng = random.Random(10)
    for _ in range(200):
        t = rng.randint(65, 20000)
        out.append((t, rng.randint(1, t)))
    return out


def torch_rule(t, s):
    if t % s == 0:
        return [k * (t // s) for k in range(s)]
    return torch.round(torch.linspace(0, t - 1, s)).long().tolist()


def exact_rule(t, s):
    if t % s == 0:
        return [k * (t // s) for k in range(s)]
    return [round(Fraction(i * (t - 1), s - 1)) for i in range(s)]  # half to even


def lines():
    torch.set_num_threads(1)
    out = []
    for t, s in pairs():
        a, b = torch_rule(t, s), exact_rule(t, s)
        dev = [f"{i}:{v}" for i, (v, w) in enumerate(zip(a, b)) if v != w]
        out.append(" ".join([str(t), str(s)] + dev))
    return out


def main():
    text = "\n".join(lines()) + "\n"
    if "--check" in sys.argv:
        if FILE.read_text() != text:
            sys.exit(f"{FILE} differs from what torch {torch.__version__} computes now")
        return
    FILE.write_text(text)


if __name__ == "__main__":
    main()
