"""The checks the interop tests rely on must be able to fail: a checkpoint with a missing or
an extra tensor, or without format=pt, is rejected by load_clean."""

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from growhf import TESTDATA, load_clean

SRC = TESTDATA / "gpt2-random-realtok"


def _variant(tmp_path, name, edit, metadata=None):
    d = tmp_path / name
    shutil.copytree(SRC, d)
    sd = load_file(str(d / "model.safetensors"))
    edit(sd)
    save_file(sd, str(d / "model.safetensors"), metadata=metadata)
    return d


def test_source_loads_clean():
    load_clean(SRC)


@pytest.mark.parametrize("name,edit", [
    ("missing", lambda sd: sd.pop("transformer.ln_f.bias")),
    ("unexpected", lambda sd: sd.__setitem__("transformer.h.0.attn.extra", torch.zeros(3))),
])
def test_load_clean_rejects(tmp_path, name, edit):
    d = _variant(tmp_path, name, edit, metadata={"format": "pt"})
    with pytest.raises(AssertionError, match="complained"):
        load_clean(d)


def test_load_clean_rejects_wrong_shape(tmp_path):
    def edit(sd):
        sd["transformer.ln_f.bias"] = torch.zeros(3)
    d = _variant(tmp_path, "shape", edit, metadata={"format": "pt"})
    with pytest.raises(Exception):
        load_clean(d)
