package grow

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
	"github.com/grow-ml/grow/probe"
	"github.com/grow-ml/grow/transform"
)

// These tests run the operators on real checkpoints (testdata/stories260k and
// GPT-2 / BERT models written by the tests) and judge them with probe.Check.

const stories = "../testdata/stories260k"

// write writes a grown model to a temporary directory with its metadata and
// returns the directory.
func write(t testing.TB, r *Result, dt checkpoint.DType) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	es, err := r.Graph.Entries(dt)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := r.Metadata("test", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteDir(dir, es, checkpoint.WriteOptions{Metadata: meta, Config: r.Graph.OutputConfig()}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func check(t testing.TB, src, dst *graph.Graph, m *probe.Mapping, prec probe.Precision) *probe.Report {
	t.Helper()
	rep, err := probe.Check(src, dst, m, probe.CheckOptions{Probes: 4, SeqLen: 16, Precision: prec})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Class != m.Class {
		t.Errorf("check: class %s (claimed %s): %s", rep.Class, m.Class, rep.Verdict)
	}
	if len(rep.LayerDev) != src.Dims.Layers+1 {
		t.Errorf("layer-wise check covers %d hidden states, want %d", len(rep.LayerDev), src.Dims.Layers+1)
	}
	return rep
}

// randomConfig is a config.json for a random test model of family f.
func randomConfig(t testing.TB, m reference.Spec) *checkpoint.Config {
	t.Helper()
	var js string
	switch m.Family {
	case graph.FamilyGPT2:
		js = fmt.Sprintf(`{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"n_embd":%d,"n_layer":%d,"n_head":%d,
"n_inner":%d,"vocab_size":%d,"n_positions":%d,"layer_norm_epsilon":1e-5,"activation_function":"gelu_new",
"tie_word_embeddings":true,"bos_token_id":0,"eos_token_id":0}`, m.D, m.L, m.H, m.I, m.V, m.P)
	case graph.FamilyBERT:
		js = fmt.Sprintf(`{"model_type":"bert","architectures":["BertForMaskedLM"],"hidden_size":%d,"num_hidden_layers":%d,
"num_attention_heads":%d,"intermediate_size":%d,"vocab_size":%d,"max_position_embeddings":%d,"type_vocab_size":2,
"layer_norm_eps":1e-12,"hidden_act":"gelu","tie_word_embeddings":true,"pad_token_id":0}`, m.D, m.L, m.H, m.I, m.V, m.P)
	default:
		t.Fatalf("no config for %s", m.Family)
	}
	c, err := checkpoint.ParseConfig([]byte(js), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeRandom writes a random GPT-2 or BERT model (float32) and reads it back.
func writeRandom(t testing.TB, m reference.Spec) (*graph.Graph, string) {
	t.Helper()
	g := randomGraph(m, 3)
	g.Config = randomConfig(t, m)
	dir := filepath.Join(t.TempDir(), "src")
	es, err := g.Entries(checkpoint.F32)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteDir(dir, es, checkpoint.WriteOptions{Config: g.OutputConfig()}); err != nil {
		t.Fatal(err)
	}
	return reference.OpenGraph(t, dir), dir
}

func TestStories260k(t *testing.T) {
	src := reference.OpenGraph(t, stories)
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"hypercloning n2 m3", Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3}},
		{"hypercloning n3 m2", Options{Method: MethodHyperCloning, WidthFactor: 3, FFNFactor: 2}},
		{"hypercloning n2 noise keep-tied", Options{Method: MethodHyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 10, KeepTied: true}},
		{"lemon 64->96", Options{Method: MethodLEMON, Hidden: 96}},
		{"lemon 64->100", Options{Method: MethodLEMON, Hidden: 100, Heads: 10, KVHeads: 5, FFN: 268}},
		{"lemon 64->100 keep-tied", Options{Method: MethodLEMON, Hidden: 100, Heads: 20, KVHeads: 10, FFN: 200, KeepTied: true}},
		{"zeropad 64->100", Options{Method: MethodZeroPad, Hidden: 100, Heads: 10, KVHeads: 5, FFN: 268, PadStd: 0.02}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Expand(src, c.opts.Operator())
			if err != nil {
				t.Fatal(err)
			}
			rep := check(t, src, r.Graph, &r.Mapping, probe.F64)
			t.Logf("%s: max-abs %.3g, layers %v", rep.Verdict, rep.MaxAbs, rep.LayerDev)
			// the same through a float64 checkpoint on disk
			dst := reference.OpenGraph(t, write(t, r, checkpoint.F64))
			check(t, src, dst, &r.Mapping, probe.F64)
		})
	}
}

// The grown stories260k (wider or deeper), written in float32, continues the
// reference prompts with the same greedy tokens as llama2.c's run.c.
func TestStories260kGreedy(t *testing.T) {
	data, err := os.ReadFile("../testdata/reference/stories260k-logits.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Prompts []struct {
			IDs    []int `json:"ids"`
			Greedy []int `json:"greedy_continuation"`
		} `json:"prompts"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	src := reference.OpenGraph(t, stories)
	steps := 64
	if testing.Short() {
		steps = 16
	}
	for _, op := range []Operator{
		&HyperCloning{WidthFactor: 2},
		&LEMON{Width: Width{Hidden: 96}},
		&Identity{At: "0,2,4"},
		&LEMON{Layers: 8},
	} {
		r, err := Expand(src, op)
		if err != nil {
			t.Fatal(err)
		}
		dst := reference.OpenGraph(t, write(t, r, checkpoint.F32))
		m, err := probe.New(dst, probe.F64)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range ref.Prompts {
			got, err := m.Greedy(p.IDs, steps)
			if err != nil {
				t.Fatal(err)
			}
			for k := range got {
				if got[k] != p.Greedy[k] {
					t.Fatalf("%s: prompt %d step %d: token %d, reference %d", op.Name(), i, k, got[k], p.Greedy[k])
				}
			}
		}
	}
}

// With --dtype bf16 and N = 2 the grown model computes exactly what the
// BF16-rounded source computes (tiling and /2 add no rounding of their own).
func TestBF16HyperCloning(t *testing.T) {
	src := reference.OpenGraph(t, stories)
	r, err := Expand(src, Options{Method: MethodHyperCloning, WidthFactor: 2}.Operator())
	if err != nil {
		t.Fatal(err)
	}
	if in := r.Plan.InexactIn(checkpoint.BF16); len(in) != 0 {
		t.Errorf("N=2 plan says inexact in BF16: %v", in)
	}
	dst := reference.OpenGraph(t, write(t, r, checkpoint.BF16))
	if dt := dst.Embed.DType(); dt != checkpoint.BF16 {
		t.Fatalf("written dtype %s", dt)
	}
	check(t, graph.Round(src, checkpoint.BF16), dst, &r.Mapping, probe.F64)
	// against the float32 source it is not exact: the rounding is the source's
	rep, err := probe.Check(src, dst, &r.Mapping, probe.CheckOptions{Probes: 2, SeqLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass {
		t.Errorf("BF16 result passes EXACT against the float32 source (max-abs %.3g): the reference test above proves nothing", rep.MaxAbs)
	}
	// N = 3 is not exact in BF16, and the plan says so
	r3, err := Expand(src, Options{Method: MethodHyperCloning, WidthFactor: 3}.Operator())
	if err != nil {
		t.Fatal(err)
	}
	if len(r3.Plan.InexactIn(checkpoint.BF16)) == 0 {
		t.Error("N=3 plan claims exactness in BF16")
	}
}

// The default untie writes a head and says untied; --keep-tied writes none.
func TestTiedHead(t *testing.T) {
	src := reference.OpenGraph(t, stories)
	for _, keep := range []bool{false, true} {
		r, err := Expand(src, Options{Method: MethodHyperCloning, WidthFactor: 2, KeepTied: keep}.Operator())
		if err != nil {
			t.Fatal(err)
		}
		dir := write(t, r, checkpoint.F32)
		ck, err := checkpoint.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, hasHead := ck.Tensor("lm_head.weight")
		tied := ck.Config.Tied
		ck.Close()
		if hasHead == keep || tied != keep {
			t.Errorf("keep-tied %v: lm_head.weight written %v, config tied %v", keep, hasHead, tied)
		}
		dst := reference.OpenGraph(t, dir)
		check(t, src, dst, &r.Mapping, probe.F32)
	}
}

func TestGPT2AndBERT(t *testing.T) {
	for _, c := range []struct {
		name string
		m    reference.Spec
		opts Options
	}{
		{"gpt2 hypercloning n2 m3", gpt2, Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3}},
		{"gpt2 hypercloning n3 m2 keep-tied", gpt2, Options{Method: MethodHyperCloning, WidthFactor: 3, FFNFactor: 2, KeepTied: true}},
		{"gpt2 hypercloning n2 noise", gpt2, Options{Method: MethodHyperCloning, WidthFactor: 2, Noise: true, NoiseSNRDB: 10}},
		{"gpt2 lemon 64->96", gpt2, Options{Method: MethodLEMON, Hidden: 96, FFN: 390}},
		{"gpt2 lemon 64->112 keep-tied", gpt2, Options{Method: MethodLEMON, Hidden: 112, FFN: 300, KeepTied: true}},
		{"gpt2 zeropad ffn", gpt2, Options{Method: MethodZeroPad, FFN: 300, PadStd: 0.02}},
		{"bert hypercloning n2 m3", bert, Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3}},
		{"bert hypercloning n3 m2 keep-tied", bert, Options{Method: MethodHyperCloning, WidthFactor: 3, FFNFactor: 2, KeepTied: true}},
		{"bert lemon 64->128", bert, Options{Method: MethodLEMON, Hidden: 128, FFN: 300}},
		{"bert zeropad ffn", bert, Options{Method: MethodZeroPad, FFN: 200, PadStd: 0.02}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, _ := writeRandom(t, c.m)
			r, err := Expand(src, c.opts.Operator())
			if err != nil {
				t.Fatal(err)
			}
			check(t, src, r.Graph, &r.Mapping, probe.F64)
			dst := reference.OpenGraph(t, write(t, r, checkpoint.F64))
			check(t, src, dst, &r.Mapping, probe.F64)
			if got := dst.Dims; got != r.Plan.Dst {
				t.Errorf("dims read back %+v, plan %+v", got, r.Plan.Dst)
			}
		})
	}
}

// Zero-padding a LayerNorm model's hidden width is APPROX: the check reports,
// and the result is close but not exact.
func TestZeroPadLayerNormApprox(t *testing.T) {
	src, _ := writeRandom(t, gpt2)
	r, err := Expand(src, Options{Method: MethodZeroPad, Hidden: 96}.Operator())
	if err != nil {
		t.Fatal(err)
	}
	if r.Mapping.Class != probe.Approx {
		t.Fatalf("class %s, want APPROX", r.Mapping.Class)
	}
	rep := check(t, src, r.Graph, &r.Mapping, probe.F64)
	if rep.Rel < 1e-9 || math.IsNaN(rep.Rel) {
		t.Errorf("APPROX result is exact (rel %.3g): the claim would be wrong", rep.Rel)
	}
}

// Pipeline (prefetching the next entry, reusing buffers) writes the same bytes
// as the plain entries.
func TestPipelineSameBytes(t *testing.T) {
	gsrc, _ := writeRandom(t, gpt2)
	for _, c := range []struct {
		src  *graph.Graph
		opts Options
	}{
		{reference.OpenGraph(t, stories), Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3, Noise: true, NoiseSNRDB: 10}},
		{reference.OpenGraph(t, stories), Options{Method: MethodHyperCloning, WidthFactor: 2, FFNFactor: 3}}, // row-tiled blocks
		{reference.OpenGraph(t, stories), Options{Method: MethodZeroPad, Hidden: 96, PadStd: 0.1}},
		{reference.OpenGraph(t, stories), Options{Method: MethodLEMON, Hidden: 100, Heads: 10, KVHeads: 5, FFN: 268}},
		{gsrc, Options{Method: MethodHyperCloning, WidthFactor: 3}},
	} {
		var files [2][]byte
		for k := range files {
			r, err := Expand(c.src, c.opts.Operator())
			if err != nil {
				t.Fatal(err)
			}
			es, err := r.Graph.Entries(checkpoint.F32)
			if err != nil {
				t.Fatal(err)
			}
			if k == 1 {
				es = transform.Pipeline(r.Graph, es)
			}
			dir := filepath.Join(t.TempDir(), "out")
			if err := checkpoint.WriteDir(dir, es, checkpoint.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if files[k], err = os.ReadFile(filepath.Join(dir, "model.safetensors")); err != nil {
				t.Fatal(err)
			}
		}
		if string(files[0]) != string(files[1]) {
			t.Errorf("%+v: pipelined output differs from the plain one", c.opts)
		}
	}
}

// An F16 source grown ×2: halving small weights underflows F16's subnormal
// range, so the plan says the F16 output is not exact, and it passes the
// float32 rule; written in F32 it is exact.
func TestF16Source(t *testing.T) {
	src := reference.OpenGraph(t, stories)
	es, err := src.Entries(checkpoint.F16)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "f16")
	if err := checkpoint.WriteDir(dir, es, checkpoint.WriteOptions{Config: src.OutputConfig()}); err != nil {
		t.Fatal(err)
	}
	src16 := reference.OpenGraph(t, dir)
	r, err := Expand(src16, Options{Method: MethodHyperCloning, WidthFactor: 2, KeepTied: true}.Operator())
	if err != nil {
		t.Fatal(err)
	}
	if in := r.Plan.InexactIn(""); len(in) == 0 {
		t.Error("plan says the F16 output is exact")
	}
	if in := r.Plan.InexactIn(checkpoint.F32); len(in) != 0 {
		t.Errorf("plan says the F32 output is inexact: %v", in)
	}
	dst := reference.OpenGraph(t, write(t, r, ""))
	if dt := dst.Embed.DType(); dt != checkpoint.F16 {
		t.Errorf("output dtype %s, want the source's F16", dt)
	}
	check(t, src16, dst, &r.Mapping, probe.F32)
	check(t, src16, reference.OpenGraph(t, write(t, r, checkpoint.F32)), &r.Mapping, probe.F64)
}

// HyperCloning of the single-head GPT-2 and BERT checkpoints in testdata: one
// key/value head with one query head is plain multi-head attention, so the
// key/value heads grow with the query heads (GPT-2 and BERT have no grouped
// keys and values to keep at 1).
func TestHyperCloningSingleHead(t *testing.T) {
	for _, dir := range []string{"../testdata/gpt2-random-realtok", "../testdata/bert-random-realtok"} {
		for _, n := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s n%d", filepath.Base(dir), n), func(t *testing.T) {
				src := reference.OpenGraph(t, dir)
				r, err := Expand(src, Options{Method: MethodHyperCloning, WidthFactor: n}.Operator())
				if err != nil {
					t.Fatal(err)
				}
				if r.Graph.Dims.Heads != n || r.Graph.Dims.KVHeads != n {
					t.Errorf("heads %d, kv heads %d; want %d and %d", r.Graph.Dims.Heads, r.Graph.Dims.KVHeads, n, n)
				}
				check(t, src, r.Graph, &r.Mapping, probe.F64)
				check(t, src, reference.OpenGraph(t, write(t, r, checkpoint.F64)), &r.Mapping, probe.F64)
			})
		}
	}
}

// transformers' LlamaConfig (model_type "llama") refuses a hidden_size that
// num_attention_heads does not divide, even with head_dim written: a LEMON or
// zero-padding target of stories260k must keep hidden % heads == 0. The default
// heads for 64 → 100 are chosen so; explicit heads that break it are refused.
func TestLlamaHeadsDivideHidden(t *testing.T) {
	src := reference.OpenGraph(t, stories)
	for _, m := range []Method{MethodLEMON, MethodZeroPad} {
		r, err := Expand(src, Options{Method: m, Hidden: 100}.Operator())
		if err != nil {
			t.Fatalf("%s 64->100, default heads: %v", m, err)
		}
		d := r.Graph.Dims
		if d.Hidden%d.Heads != 0 || d.Heads <= src.Dims.Heads || d.Heads%d.KVHeads != 0 {
			t.Errorf("%s 64->100 default: heads %d, kv heads %d; want more than 8 heads dividing 100 and divisible by the kv heads", m, d.Heads, d.KVHeads)
		}
		check(t, src, r.Graph, &r.Mapping, probe.F64)
		_, err = Expand(src, Options{Method: m, Hidden: 100, Heads: 12, KVHeads: 6}.Operator())
		if err == nil || !strings.Contains(err.Error(), "LlamaConfig") {
			t.Errorf("%s 64->100 with 12 heads: error %v, want a refusal naming transformers' LlamaConfig", m, err)
		}
	}
}
