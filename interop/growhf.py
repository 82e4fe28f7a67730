"""Helpers shared by the interop tests: run the real grow binary, load what it writes with
the official Hugging Face libraries, and fail on anything those libraries complain about."""

import json
import logging
import os
import re
import subprocess
import warnings
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors import safe_open

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"

# Anything transformers says about weights it could not match: the v5 "LOAD REPORT" table
# (MISSING / UNEXPECTED / MISMATCH rows) and the v4-style sentences.
WEIGHT_COMPLAINT = re.compile(
    r"LOAD REPORT|MISSING|UNEXPECTED|MISMATCH|newly initiali[sz]ed|not initiali[sz]ed|"
    r"were not used|not used when initiali|missing|unexpected|mismatch|were not (found|loaded)",
    re.IGNORECASE,
)


def grow_bin():
    b = os.environ.get("GROW_BIN")
    if not b:
        raise RuntimeError("GROW_BIN is not set: run these tests with `go test ./interop` "
                           "(it builds grow and sets GROW_BIN) or set it to a grow binary")
    return b


def run_grow(*args, check=True):
    """Runs grow with args as a user would; returns the CompletedProcess (text mode)."""
    cmd = [grow_bin()] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(
            f"`grow {' '.join(cmd[1:])}` exited with {p.returncode}\n"
            f"--- stdout\n{p.stdout[-4000:]}\n--- stderr\n{p.stderr[-4000:]}")
    return p


def grow_probe(model_dir, ids, precision=None):
    """grow probe MODEL --ids ... --json → float64 array [positions, vocab or hidden]."""
    args = ["probe", model_dir, "--ids", ",".join(str(i) for i in ids), "--json"]
    if precision:
        args += ["--precision", precision]
    out = run_grow(*args).stdout
    try:
        doc = json.loads(out)
    except json.JSONDecodeError as e:
        raise AssertionError(f"grow probe --json did not print JSON ({e}): {out[:500]!r}")
    a = np.asarray(doc["logits"], dtype=np.float64)
    assert a.ndim == 2 and a.shape[0] == len(ids), \
        f"grow probe: logits shape {a.shape}, want one row per position ({len(ids)})"
    return a


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


def model_class(config, masked_lm=False):
    """The transformers class config.architectures names (or BERT's masked-LM class)."""
    if masked_lm:
        return transformers.AutoModelForMaskedLM
    archs = getattr(config, "architectures", None) or []
    assert len(archs) == 1, f"config.architectures = {archs!r}, want exactly one"
    cls = getattr(transformers, archs[0], None)
    assert cls is not None, f"transformers {transformers.__version__} has no class {archs[0]}"
    return cls


def load_clean(model_dir, cls=None):
    """Loads model_dir with AutoConfig and the model class its architectures name, offline,
    and fails on any missing/unexpected/mismatched key, load error, or logged or warned
    complaint about weights. Returns the model in eval mode (float32 unless told otherwise)."""
    model_dir = str(model_dir)
    config = transformers.AutoConfig.from_pretrained(model_dir)
    if cls is None:
        cls = model_class(config)
    handler = _Collect()
    tlog = logging.getLogger("transformers")
    tlog.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model, info = cls.from_pretrained(model_dir, output_loading_info=True,
                                              dtype=torch.float32)
    finally:
        tlog.removeHandler(handler)
    problems = []
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(key):
            problems.append(f"{key}: {sorted(map(str, info[key]))}")
    for msg in handler.records + [str(w.message) for w in caught]:
        if WEIGHT_COMPLAINT.search(msg):
            problems.append(f"warning: {msg}")
    assert not problems, (f"transformers {transformers.__version__} {cls.__name__}."
                          f"from_pretrained({model_dir}) complained:\n" + "\n".join(problems))
    model.eval()
    return model


@torch.no_grad()
def hf_outputs(model, ids):
    """float32 logits (or last_hidden_state for a model without a head) at every position,
    for one sequence, as float64 numpy [positions, width]."""
    x = torch.tensor([list(ids)], dtype=torch.long)
    out = model(input_ids=x)
    t = out.logits if getattr(out, "logits", None) is not None else out.last_hidden_state
    return t[0].to(torch.float64).numpy()


# (what, measured value, tolerance) for every comparison; conftest prints them at the end.
MEASURED = []


def max_abs(a, b, what=None, tol=None):
    """max |a - b|; with what, the value is recorded for the summary pytest prints."""
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    d = float(np.max(np.abs(a - b)))
    if what:
        MEASURED.append((what, d, tol, float(np.max(np.abs(b)))))
    return d


def read_tensors(model_dir):
    """Every tensor of a checkpoint directory via safetensors.safe_open:
    {name: (tensor, file name)} plus the list of (file, metadata)."""
    model_dir = Path(model_dir)
    files = sorted(model_dir.glob("*.safetensors"))
    assert files, f"no .safetensors file in {model_dir}"
    tensors, metas = {}, []
    for f in files:
        with safe_open(str(f), framework="pt") as sf:
            metas.append((f.name, sf.metadata()))
            for k in sf.keys():
                assert k not in tensors, f"tensor {k} in both {tensors[k][1]} and {f.name}"
                tensors[k] = (sf.get_tensor(k), f.name)
    return tensors, metas


def randomize(model, seed):
    """Replaces transformers' tiny default init by O(1) random values everywhere (biases and
    norm parameters included), so that the logits are large and every tensor matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.ndim == 1 and ("norm" in name.lower() or ".ln_" in name):
                if name.endswith("bias"):
                    p.copy_(0.2 * noise)
                else:
                    p.copy_(1.0 + 0.2 * noise)
            else:
                p.copy_(0.2 * noise)
