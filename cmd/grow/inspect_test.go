package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/internal/reference"
)

func testModel(name string) string { return filepath.Join("..", "..", "testdata", name) }

// growExec runs the grow command in-process and returns stdout and stderr.
func growExec(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	_, err := execute(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func inspectJSON(t *testing.T, path string, extra ...string) inspectReport {
	t.Helper()
	out, _, err := growExec(t, append([]string{"inspect", path, "--json"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

func TestInspectTestdata(t *testing.T) {
	for _, tc := range []struct {
		dir    string
		family string
		arch   string
		dims   [8]int // hidden, layers, heads, kv heads, head_dim, ffn, vocab, positions
		head   string
		params int64
		dtypes map[string]int
	}{
		// The numbers for the trained stories260k Llama.
		{"stories260k", "llama", "LlamaForCausalLM", [8]int{64, 5, 8, 4, 8, 172, 512, 512}, "tied", 260032, map[string]int{"F32": 47}},
		// GPT-2 n_inner null ⇒ 4·n_embd; 50257·2 + 1024·2 + 74 per layer + 4 (ln_f).
		{"gpt2-random-realtok", "gpt2", "GPT2LMHeadModel", [8]int{2, 1, 1, 1, 2, 8, 50257, 1024}, "tied", 102640, map[string]int{"F32": 16}},
		{"gpt2-random-toyvocab", "gpt2", "GPT2Model", [8]int{2, 1, 1, 1, 2, 8, 21, 1024}, "none", 2168, map[string]int{"F32": 16}},
		// 30522·4 + 512·4 + 2·4 + 8 + 236 (layer) + 28 (MLM transform) + 30522 (cls bias).
		{"bert-random-realtok", "bert", "BertLMHeadModel", [8]int{4, 1, 1, 1, 4, 8, 30522, 512}, "tied", 154874, map[string]int{"F32": 26}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			r := inspectJSON(t, testModel(tc.dir))
			got := [8]int{r.Hidden, r.Layers, r.Heads, r.KVHeads, r.HeadDim, r.FFN, r.Vocab, r.Positions}
			if r.Family != tc.family || len(r.Architectures) != 1 || r.Architectures[0] != tc.arch || got != tc.dims ||
				r.Head != tc.head || r.Parameters != tc.params {
				t.Errorf("got %s %v %v head %s params %d", r.Family, r.Architectures, got, r.Head, r.Parameters)
			}
			if len(r.DTypes) != len(tc.dtypes) || r.DTypes["F32"] != tc.dtypes["F32"] {
				t.Errorf("dtypes %v", r.DTypes)
			}
			// All these checkpoints are F32 and store every parameter once.
			if r.Bytes != 4*tc.params || len(r.Shards) != 1 || r.Shards[0] != "model.safetensors" {
				t.Errorf("bytes %d shards %v", r.Bytes, r.Shards)
			}
			st, err := os.Stat(filepath.Join(testModel(tc.dir), "model.safetensors"))
			if err != nil || r.FileBytes != st.Size() {
				t.Errorf("file bytes %d, %v", r.FileBytes, err)
			}
			if tc.family == "bert" && r.TypeVocab != 2 {
				t.Errorf("type vocab %d", r.TypeVocab)
			}
		})
	}
}

func TestInspectText(t *testing.T) {
	out, _, err := growExec(t, "inspect", testModel("stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^family\s+llama \(model_type llama, LlamaForCausalLM\)$`,
		`(?m)^hidden size\s+64$`, `(?m)^layers\s+5$`, `(?m)^heads\s+8$`, `(?m)^key/value heads\s+4$`,
		`(?m)^head_dim\s+8$`, `(?m)^FFN size\s+172$`, `(?m)^vocabulary\s+512$`,
		`(?m)^output head\s+tied to the embedding$`, `(?m)^parameters\s+260,032$`,
		`(?m)^dtypes\s+F32 \(47 tensors\)`, `(?m)^bytes\s+1,040,128 of tensor data`, `(?m)^shards\s+1 \(model.safetensors\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "TENSOR") {
		t.Errorf("tensor table without --tensors")
	}
}

func TestInspectTensors(t *testing.T) {
	out, _, err := growExec(t, "inspect", testModel("gpt2-random-realtok"), "--tensors")
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Open(testModel("gpt2-random-realtok"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, x := range c.Tensors {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(x.Name) + `\s+\S+.*\sF32$`).MatchString(out) {
			t.Errorf("tensor %s not listed with a role and dtype", x.Name)
		}
	}
	for _, re := range []string{
		`(?m)^transformer\.h\.0\.attn\.c_attn\.weight\s+layers\.0\.attn\.\{q,k,v\}\.weight\s+\[2 6\]\s+F32$`,
		`(?m)^transformer\.wte\.weight\s+embed\s+\[50257 2\]\s+F32$`,
		`(?m)^transformer\.h\.0\.mlp\.c_proj\.weight\s+layers\.0\.mlp\.down\.weight\s+\[8 2\]\s+F32$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	r := inspectJSON(t, testModel("bert-random-realtok"), "--tensors")
	if len(r.Tensors) != 26 {
		t.Fatalf("%d tensors", len(r.Tensors))
	}
	for _, x := range r.Tensors {
		if len(x.Roles) != 1 || x.DType != "F32" || x.File != "model.safetensors" {
			t.Errorf("tensor %+v", x)
		}
	}
}

func TestInspectBareFileAndShards(t *testing.T) {
	r := inspectJSON(t, filepath.Join(testModel("stories260k"), "model.safetensors"))
	if r.Family != "" || r.Parameters != 260032 || r.DTypes["F32"] != 47 {
		t.Errorf("bare file: %+v", r)
	}
	out, _, err := growExec(t, "inspect", filepath.Join(testModel("stories260k"), "model.safetensors"))
	if err != nil || !strings.Contains(out, "no config.json") {
		t.Errorf("bare file text: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "sharded")
	if _, _, err := growExec(t, "convert", testModel("stories260k"), "-o", dir, "--max-shard-size", "100KB", "--quiet"); err != nil {
		t.Fatal(err)
	}
	r = inspectJSON(t, dir)
	if len(r.Shards) < 2 || r.Parameters != 260032 || r.Family != "llama" {
		t.Errorf("sharded: shards %v params %d", r.Shards, r.Parameters)
	}
}

func TestInspectErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  func(t *testing.T) string
		wants []string
	}{
		{"missing model", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, []string{"nope", "no such model"}},
		{"missing key", func(t *testing.T) string {
			return copyModel(t, "stories260k", modelEdit{cfg: func(m map[string]any) { delete(m, "hidden_size") }})
		}, []string{"config.json", `"hidden_size"`, "missing"}},
		{"contradictory keys", func(t *testing.T) string {
			return copyModel(t, "stories260k", modelEdit{cfg: func(m map[string]any) { m["num_key_value_heads"] = 3 }})
		}, []string{"config.json", `"num_key_value_heads"`, "does not divide"}},
		{"unknown tensor", func(t *testing.T) string {
			return copyModel(t, "bert-random-realtok", modelEdit{extra: []checkpoint.Entry{
				checkpoint.BytesEntry("bert.encoder.layer.0.attention.self.distance_embedding.weight", checkpoint.F32, []int{1}, make([]byte, 4))}})
		}, []string{"model.safetensors", `"bert.encoder.layer.0.attention.self.distance_embedding.weight"`, "fits no role"}},
		{"config disagrees with tensors", func(t *testing.T) string {
			return copyModel(t, "gpt2-random-realtok", modelEdit{cfg: func(m map[string]any) { m["vocab_size"] = 50000 }})
		}, []string{`"transformer.wte.weight"`, "vocab_size=50000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := growExec(t, "inspect", tc.path(t))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, _, err := growExec(t, "inspect"); err == nil {
		t.Errorf("inspect without a model: no error")
	}
}

// modelEdit says how copyModel changes a model.
type modelEdit struct {
	cfg   func(map[string]any) // edits config.json
	extra []checkpoint.Entry   // tensors added
	// tensor, when not "", names a tensor whose first element changes by delta.
	tensor string
	delta  float32
	meta   map[string]string // the safetensors metadata (besides "format": "pt")
}

// copyModel copies a testdata model (config.json, the side files and every
// tensor) into a temporary directory, changed as e says.
func copyModel(t *testing.T, name string, e modelEdit) string {
	t.Helper()
	src := testModel(name)
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e.cfg != nil {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		e.cfg(m)
		if raw, err = json.MarshalIndent(m, "", "  "); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ents {
		if f.Name() == "config.json" || f.Name() == "model.safetensors" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := checkpoint.OpenFile(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var es []checkpoint.Entry
	found := e.tensor == ""
	for _, x := range st.Tensors {
		if x.Name != e.tensor {
			es = append(es, checkpoint.CopyEntry(x))
			continue
		}
		found = true
		es = append(es, checkpoint.Float32Entry(x.Name, x.DType, x.Shape, func() ([]float32, error) {
			v, err := x.Float32()
			if err != nil {
				return nil, err
			}
			v[0] += e.delta
			return v, nil
		}))
	}
	if !found {
		t.Fatalf("no tensor %s in %s", e.tensor, name)
	}
	es = append(es, e.extra...)
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := checkpoint.WriteSafetensors(f, es, e.meta); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeSynth writes a random graph of a registered model type as a model
// directory (model.safetensors and its config.json).
func writeSynth(t *testing.T, s reference.Spec) string {
	t.Helper()
	g := reference.Synth(s)
	es, err := g.Entries("")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := checkpoint.WriteDir(dir, es, checkpoint.WriteOptions{Config: g.OutputConfig()}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Qwen3's QK-norm and Phi-3's partial rotary are reported, in text and JSON;
// every family's distinctive features are listed (graph.Graph.Distinctive).
func TestInspectQKNormAndPartialRotary(t *testing.T) {
	qwen3 := writeSynth(t, reference.Spec{ModelType: "qwen3", D: 16, L: 1, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, F32: true})
	phi3 := writeSynth(t, reference.Spec{ModelType: "phi3", D: 16, L: 1, H: 2, K: 1, I: 24, V: 40, F32: true, RotaryFraction: 0.5})
	if r := inspectJSON(t, qwen3); r.ModelType != "qwen3" || !r.QKNorm || r.RotaryDims != 6 || r.HeadDim != 6 {
		t.Errorf("qwen3: %+v", r)
	}
	if r := inspectJSON(t, phi3); r.ModelType != "phi3" || r.QKNorm || r.RotaryDims != 4 || r.HeadDim != 8 {
		t.Errorf("phi3: %+v", r)
	}
	for dir, re := range map[string]string{
		qwen3: `(?m)^feature\s+queries and keys normalised per head$`,
		phi3:  `(?m)^rope theta\s+10000, rotating 4 of each head's 8 dims$`,
	} {
		out, _, err := growExec(t, "inspect", dir)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
}

// TestInspectFeatures: grow inspect names what each family's forward pass does
// beyond a plain block.
func TestInspectFeatures(t *testing.T) {
	for _, c := range []struct {
		spec reference.Spec
		want string
	}{
		{reference.Spec{ModelType: "gemma", D: 16, L: 1, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, F32: true, Tied: true}, "applied as 1 + w"},
		{reference.Spec{ModelType: "olmo2", D: 16, L: 1, H: 4, K: 4, I: 24, V: 40, F32: true}, "whole projections"},
		{reference.Spec{ModelType: "bert", D: 16, L: 1, H: 4, I: 24, V: 40, P: 16, F32: true, MLM: true}, "post-LN"},
	} {
		r := inspectJSON(t, writeSynth(t, c.spec))
		if !strings.Contains(strings.Join(r.Features, "; "), c.want) {
			t.Errorf("%s: features %q, want one saying %q", c.spec.ModelType, r.Features, c.want)
		}
	}
}
