"""A grown model that transformers loads and saves again keeps its claim: save_pretrained
rewrites the safetensors metadata to {"format": "pt"} but keeps config.json's "grow_mapping",
and `grow check` still judges the model by it and says where it read it (issue 8)."""

import json

from safetensors import safe_open

from growhf import TESTDATA, load_clean, run_grow

SRC = TESTDATA / "stories260k"


def test_claim_survives_save_pretrained(tmp_path):
    grown = tmp_path / "x2"
    run_grow("expand", SRC, "-o", grown, "--quiet", "--method", "hypercloning", "--width-factor", "2")
    cfg = json.loads((grown / "config.json").read_text())
    assert cfg["grow_mapping"]["class"] == "EXACT", f"grow_mapping in config.json: {cfg.get('grow_mapping')!r}"

    resaved = tmp_path / "resaved"
    load_clean(grown).save_pretrained(resaved, safe_serialization=True)
    with safe_open(str(resaved / "model.safetensors"), framework="pt") as f:
        meta = f.metadata()
    assert "grow.mapping" not in (meta or {}), f"save_pretrained kept the metadata {meta!r}"
    kept = json.loads((resaved / "config.json").read_text()).get("grow_mapping")
    assert kept == cfg["grow_mapping"], f"save_pretrained wrote grow_mapping {kept!r}, want {cfg['grow_mapping']!r}"

    p = run_grow("check", SRC, resaved, "--expect", "EXACT")
    assert "verdict (EXACT): PASS" in p.stdout, p.stdout
    assert 'read from config.json ("grow_mapping")' in p.stdout, p.stdout

    # The resaved model, converted by grow, carries the claim on in both copies.
    conv = tmp_path / "conv"
    run_grow("convert", resaved, "-o", conv, "--quiet")
    with safe_open(str(conv / "model.safetensors"), framework="pt") as f:
        assert json.loads(f.metadata()["grow.mapping"])["operator"] == "hypercloning"
    p = run_grow("check", SRC, conv)
    assert "verdict (EXACT): PASS" in p.stdout and "which agree" in p.stdout, p.stdout


def test_downgraded_claim_is_not_a_pass(tmp_path):
    grown = tmp_path / "x2"
    run_grow("expand", SRC, "-o", grown, "--quiet", "--method", "hypercloning", "--width-factor", "2")
    resaved = tmp_path / "resaved"
    load_clean(grown).save_pretrained(resaved, safe_serialization=True)
    cfg = json.loads((resaved / "config.json").read_text())
    cfg["grow_mapping"]["class"] = "APPROX"
    (resaved / "config.json").write_text(json.dumps(cfg))
    p = run_grow("check", SRC, resaved, check=False)
    assert p.returncode == 3 and "PASS" not in p.stdout, (p.returncode, p.stdout, p.stderr)
    p = run_grow("check", SRC, resaved, "--expect", "EXACT", check=False)
    assert p.returncode == 1 and "weaker than the EXACT expected" in p.stdout, (p.returncode, p.stdout)
