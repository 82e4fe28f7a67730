package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
)

func testdata(name string) string { return filepath.Join("..", "testdata", name) }

func open(t *testing.T, path string) *checkpoint.Checkpoint {
	t.Helper()
	c, err := checkpoint.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func load(t *testing.T, path string) (*checkpoint.Checkpoint, *Graph) {
	t.Helper()
	c := open(t, path)
	g, err := FromCheckpoint(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, g
}

// entryBytes runs an entry's Write and checks the byte count against its shape.
func entryBytes(t *testing.T, e checkpoint.Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e.Write(&b); err != nil {
		t.Fatalf("entry %q: %v", e.Name, err)
	}
	n, err := e.ByteSize()
	if err != nil {
		t.Fatal(err)
	}
	if int64(b.Len()) != n {
		t.Fatalf("entry %q wrote %d bytes, shape %v of %s needs %d", e.Name, b.Len(), e.Shape, e.DType, n)
	}
	return b.Bytes()
}

func TestFromCheckpointTestdata(t *testing.T) {
	for _, tc := range []struct {
		dir      string
		family   Family
		dims     Dims
		tied     bool
		headless bool
		norm     NormKind
		act      string
		params   int
	}{
		// 512·64 + 5·(2·64 + 64·64·2 + 32·64·2 + 3·172·64) + 64 (issue 2).
		{"stories260k", FamilyLlama, Dims{64, 5, 8, 4, 8, 172, 512, 512, 0}, true, false, RMSNorm, "silu", 260032},
		// 50257·2 + 1024·2 + (4·2 + 2·6 + 6 + 2·2 + 2 + 2·8 + 8 + 8·2 + 2) + 2·2.
		{"gpt2-random-realtok", FamilyGPT2, Dims{2, 1, 1, 1, 2, 8, 50257, 1024, 0}, true, false, LayerNorm, "gelu_new", 100514 + 2048 + 74 + 4},
		{"gpt2-random-toyvocab", FamilyGPT2, Dims{2, 1, 1, 1, 2, 8, 21, 1024, 0}, true, true, LayerNorm, "gelu_new", 42 + 2048 + 74 + 4},
		// 30522·4 + 512·4 + 2·4 + 8 + (4·(16+4) + 8 + 8·4+8 + 4·8+4 + 8) + (16+4+8) + 30522.
		{"bert-random-realtok", FamilyBERT, Dims{4, 1, 1, 1, 4, 8, 30522, 512, 2}, true, false, LayerNorm, "gelu", 122088 + 2048 + 8 + 8 + 80 + 8 + 40 + 36 + 8 + 28 + 30522},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			c, g := load(t, testdata(tc.dir))
			if g.Family != tc.family || g.Dims != tc.dims || g.Tied != tc.tied || g.Headless != tc.headless ||
				g.NormKind != tc.norm || g.Act != tc.act || g.PostLN != (tc.family == FamilyBERT) {
				t.Errorf("got family %s dims %+v tied %v headless %v norm %s act %s postLN %v", g.Family, g.Dims, g.Tied, g.Headless, g.NormKind, g.Act, g.PostLN)
			}
			if g.Config != c.Config || g.Eps != c.Config.NormEps {
				t.Errorf("config/eps not taken from the checkpoint")
			}
			// Every source tensor is named by exactly the roles that hold it, and
			// the roles name nothing else.
			src := map[string]bool{}
			for _, x := range c.Tensors {
				src[x.Name] = true
			}
			named := map[string]int{}
			params := 0
			for _, r := range g.Roles() {
				for _, n := range r.Names {
					named[n]++
					if !src[n] {
						t.Errorf("role %s names %q, which is not in the checkpoint", r.Role, n)
					}
				}
				if r.Rule != RuleDrop && r.T.DType().IsFloat() {
					params += checkpointNumel(r.T.Shape())
				}
			}
			for n := range src {
				want := 1
				if strings.HasSuffix(n, "c_attn.weight") || strings.HasSuffix(n, "c_attn.bias") {
					want = 3
				}
				if named[n] != want {
					t.Errorf("tensor %q is held by %d roles, want %d", n, named[n], want)
				}
			}
			if params != tc.params {
				t.Errorf("parameters %d, want %d", params, tc.params)
			}
		})
	}
}

// TestViewsUndoConv1D checks the GPT-2 views element by element against the
// stored [in, out] data: W[o][i] = stored[i][o], and c_attn = [q | k | v].
func TestViewsUndoConv1D(t *testing.T) {
	c, g := load(t, testdata("gpt2-random-realtok"))
	get := func(name string) []float32 {
		x, ok := c.Tensor(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		d, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	D := g.Hidden
	cattn := get("transformer.h.0.attn.c_attn.weight") // [D, 3D]
	cbias := get("transformer.h.0.attn.c_attn.bias")
	l := g.Layers[0]
	for part, lin := range []Linear{l.Q, l.K, l.V} {
		if !slices.Equal(lin.W.Shape(), []int{D, D}) {
			t.Fatalf("part %d shape %v", part, lin.W.Shape())
		}
		w, err := lin.W.Float32()
		if err != nil {
			t.Fatal(err)
		}
		w64, err := lin.W.Float64()
		if err != nil {
			t.Fatal(err)
		}
		b, err := lin.B.Float32()
		if err != nil {
			t.Fatal(err)
		}
		for o := 0; o < D; o++ {
			if b[o] != cbias[part*D+o] {
				t.Errorf("part %d bias[%d] = %v, want %v", part, o, b[o], cbias[part*D+o])
			}
			for i := 0; i < D; i++ {
				want := cattn[i*3*D+part*D+o]
				if w[o*D+i] != want || w64[o*D+i] != float64(want) {
					t.Errorf("part %d W[%d][%d] = %v, want %v", part, o, i, w[o*D+i], want)
				}
			}
		}
	}
	fc := get("transformer.h.0.mlp.c_fc.weight") // [D, I]
	up, err := l.Up.W.Float32()
	if err != nil {
		t.Fatal(err)
	}
	I := g.FFN
	if !slices.Equal(l.Up.W.Shape(), []int{I, D}) {
		t.Fatalf("up shape %v", l.Up.W.Shape())
	}
	for o := 0; o < I; o++ {
		for i := 0; i < D; i++ {
			if up[o*D+i] != fc[i*I+o] {
				t.Errorf("up W[%d][%d] = %v, want %v", o, i, up[o*D+i], fc[i*I+o])
			}
		}
	}
}

var allModels = []string{"stories260k", "gpt2-random-realtok", "gpt2-random-toyvocab", "bert-random-realtok"}

// sourceHashes returns SHA-256 of every tensor's bytes.
func sourceHashes(t *testing.T, c *checkpoint.Checkpoint) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	for _, x := range c.Tensors {
		b, err := x.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out[x.Name] = sha256.Sum256(b)
	}
	return out
}

func checkSameTensors(t *testing.T, c *checkpoint.Checkpoint, entries []checkpoint.Entry) {
	t.Helper()
	want := sourceHashes(t, c)
	got := map[string][32]byte{}
	for _, e := range entries {
		src, ok := c.Tensor(e.Name)
		if !ok {
			t.Errorf("entry %q is not a source tensor", e.Name)
			continue
		}
		if e.DType != src.DType || !slices.Equal(e.Shape, src.Shape) {
			t.Errorf("entry %q: %s %v, source %s %v", e.Name, e.DType, e.Shape, src.DType, src.Shape)
		}
		got[e.Name] = sha256.Sum256(entryBytes(t, e))
	}
	if len(got) != len(want) {
		t.Errorf("%d entries, %d source tensors", len(got), len(want))
	}
	for n, h := range want {
		if got[n] != h {
			t.Errorf("tensor %q: bytes differ from the source", n)
		}
	}
}

func TestEntriesKeepBytes(t *testing.T) {
	for _, dir := range allModels {
		t.Run(dir, func(t *testing.T) {
			c, g := load(t, testdata(dir))
			for _, dt := range []checkpoint.DType{"", checkpoint.F32} {
				es, err := g.Entries(dt)
				if err != nil {
					t.Fatal(err)
				}
				checkSameTensors(t, c, es)
			}
		})
	}
}

// densify replaces every tensor of the graph by an in-memory copy of its data,
// so that Entries must re-transpose and re-fuse instead of copying bytes.
func densify(t *testing.T, g *Graph, f64 bool) {
	t.Helper()
	_, ptrs := g.fieldRoles()
	for _, p := range ptrs {
		if *p == nil {
			continue
		}
		x := *p
		if f64 {
			d, err := x.Float64()
			if err != nil {
				t.Fatal(err)
			}
			*p = NewDense64(d, x.DType(), slices.Clone(x.Shape())...)
		} else {
			d, err := x.Float32()
			if err != nil {
				t.Fatal(err)
			}
			*p = NewDense32(d, x.DType(), slices.Clone(x.Shape())...)
		}
	}
}

func TestEntriesRecomputedEqualSource(t *testing.T) {
	for _, dir := range allModels {
		for _, f64 := range []bool{false, true} {
			t.Run(dir, func(t *testing.T) {
				c, g := load(t, testdata(dir))
				densify(t, g, f64)
				es, err := g.Entries("")
				if err != nil {
					t.Fatal(err)
				}
				checkSameTensors(t, c, es)
			})
		}
	}
}

func TestEntriesConvertDType(t *testing.T) {
	for _, dir := range []string{"stories260k", "gpt2-random-realtok", "bert-random-realtok"} {
		for _, dt := range []checkpoint.DType{checkpoint.BF16, checkpoint.F16, checkpoint.F64} {
			t.Run(dir+"/"+string(dt), func(t *testing.T) {
				c, g := load(t, testdata(dir))
				es, err := g.Entries(dt)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					src, ok := c.Tensor(e.Name)
					if !ok || e.DType != dt || !slices.Equal(e.Shape, src.Shape) {
						t.Fatalf("entry %q %s %v", e.Name, e.DType, e.Shape)
					}
					v, err := src.Float64()
					if err != nil {
						t.Fatal(err)
					}
					want := make([]byte, len(v)*dt.Size())
					if err := checkpoint.EncodeFloat64(want, v, dt); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(entryBytes(t, e), want) {
						t.Errorf("%s: not the source rounded once to %s", e.Name, dt)
					}
				}
			})
		}
	}
}

// TestFloat64RoundsOnce: a value computed in float64 is rounded once to BF16,
// not through float32. 1 + 2⁻⁸ + 2⁻³⁰ is just above the midpoint of 1 and
// 1 + 2⁻⁷: once it rounds up; through float32 (1 + 2⁻⁸, a tie) it rounds to 1.
func TestFloat64RoundsOnce(t *testing.T) {
	_, g := load(t, testdata("stories260k"))
	v := make([]float64, g.Hidden)
	for i := range v {
		v[i] = 1 + 1.0/256 + 1.0/(1<<30)
	}
	g.FinalNorm.W = NewDense64(v, checkpoint.F32, g.Hidden)
	es, err := g.Entries(checkpoint.BF16)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name != "model.norm.weight" {
			continue
		}
		b := entryBytes(t, e)
		got := make([]float32, g.Hidden)
		if err := checkpoint.DecodeFloat32(got, b, checkpoint.BF16); err != nil {
			t.Fatal(err)
		}
		if got[0] != 1+1.0/128 {
			t.Errorf("BF16 of 1+2⁻⁸+2⁻³⁰ = %v, want %v", got[0], 1+1.0/128)
		}
		return
	}
	t.Fatal("no model.norm.weight entry")
}

func entryNames(es []checkpoint.Entry) map[string]checkpoint.Entry {
	m := map[string]checkpoint.Entry{}
	for _, e := range es {
		m[e.Name] = e
	}
	return m
}

func TestUntieWritesHead(t *testing.T) {
	for _, tc := range []struct {
		dir, head, embed string
	}{
		{"stories260k", "lm_head.weight", "model.embed_tokens.weight"},
		{"gpt2-random-realtok", "lm_head.weight", "transformer.wte.weight"},
		{"bert-random-realtok", "cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			_, g := load(t, testdata(tc.dir))
			es, err := g.Entries("")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := entryNames(es)[tc.head]; ok {
				t.Fatalf("tied graph writes %s", tc.head)
			}
			u := *g
			u.Tied = false
			u.Head = g.Embed
			es, err = u.Entries("")
			if err != nil {
				t.Fatal(err)
			}
			m := entryNames(es)
			h, ok := m[tc.head]
			if !ok {
				t.Fatalf("untied graph does not write %s", tc.head)
			}
			if !bytes.Equal(entryBytes(t, h), entryBytes(t, m[tc.embed])) {
				t.Errorf("head bytes differ from the embedding it was set to")
			}
			cfg, err := u.OutputConfig().Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(cfg, &raw); err != nil {
				t.Fatal(err)
			}
			if raw["tie_word_embeddings"] != false {
				t.Errorf("untied config has tie_word_embeddings = %v", raw["tie_word_embeddings"])
			}
			if g.OutputConfig().Tied != true {
				t.Errorf("the source graph's OutputConfig is not tied")
			}
			// An untied graph without a head is an error, and so is a tied one with a head.
			u.Head = nil
			if _, err := u.Entries(""); err == nil || !strings.Contains(err.Error(), tc.head) {
				t.Errorf("untied graph without head: %v", err)
			}
			u.Tied, u.Head = true, g.Embed
			if _, err := u.Entries(""); err == nil || !strings.Contains(err.Error(), "tied") {
				t.Errorf("tied graph with head: %v", err)
			}
		})
	}
}

func TestEntriesFollowDims(t *testing.T) {
	_, g := load(t, testdata("stories260k"))
	// Grow the vocabulary by one row.
	n := *g
	old, err := g.Embed.Float32()
	if err != nil {
		t.Fatal(err)
	}
	n.Vocab = 513
	n.Embed = NewDense32(append(slices.Clone(old), make([]float32, 64)...), checkpoint.F32, 513, 64)
	es, err := n.Entries("")
	if err != nil {
		t.Fatal(err)
	}
	if e := entryNames(es)["model.embed_tokens.weight"]; !slices.Equal(e.Shape, []int{513, 64}) {
		t.Errorf("embed entry shape %v", e.Shape)
	}
	if c := n.OutputConfig(); c.Vocab != 513 || c.HeadDim != 8 || c.KVHeads != 4 {
		t.Errorf("output config %v", c)
	}
	if g.Config.Vocab != 512 {
		t.Errorf("OutputConfig changed the source config")
	}
}

func TestEntriesErrors(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		edit func(g *Graph)
		want string
	}{
		{"stories260k", func(g *Graph) { g.Layers[2].Q.W = NewDense32(make([]float32, 64*63), checkpoint.F32, 64, 63) }, `"layers.2.attn.q.weight"`},
		{"stories260k", func(g *Graph) { g.Layers[1].O.W = nil }, `"layers.1.attn.o.weight"`},
		{"stories260k", func(g *Graph) { g.Layers = g.Layers[:4] }, "4 layers"},
		{"stories260k", func(g *Graph) { g.KVHeads = 3 }, "KVHeads 3"},
		{"stories260k", func(g *Graph) { g.Layers[0].AttnNorm.B = g.Layers[0].AttnNorm.W }, `"layers.0.attn_norm.bias"`},
		{"stories260k", func(g *Graph) { g.Layers[0].O.B = NewDense32(make([]float32, 64), checkpoint.F32, 64) }, `"layers.0.attn.q.bias"`},
		{"gpt2-random-realtok", func(g *Graph) { g.Layers[0].Gate = g.Layers[0].Up }, `"layers.0.mlp.gate.weight"`},
		{"gpt2-random-realtok", func(g *Graph) { g.KVHeads = 2; g.Heads = 2 }, "head_dim"},
		{"gpt2-random-realtok", func(g *Graph) {
			g.Extras = append(g.Extras, Extra{Name: "x", Role: "x", Rule: "keep", T: g.Embed})
		}, `unknown rule "keep"`},
		{"gpt2-random-realtok", func(g *Graph) {
			g.Extras = append(g.Extras, Extra{Name: "x", Role: "x", Rule: RuleHidden, T: NewDense32(make([]float32, 3), checkpoint.F32, 3)})
		}, `extra "x"`},
		{"gpt2-random-realtok", func(g *Graph) {
			g.Extras = append(g.Extras, Extra{Name: "transformer.wte.weight", Role: "x", Rule: RuleCopy, T: g.Embed})
		}, "name of a gpt2 tensor"},
		{"gpt2-random-toyvocab", func(g *Graph) { g.Head = g.Embed; g.Tied = false }, "headless"},
		{"bert-random-realtok", func(g *Graph) { g.HeadBias = nil }, `"head.bias"`},
		{"bert-random-realtok", func(g *Graph) {
			g.Layers[0].Up.W = NewDense32(make([]float32, 4*8), checkpoint.I32, 8, 4)
		}, "not a float dtype"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, g := load(t, testdata(tc.dir))
			tc.edit(g)
			if _, err := g.Entries(""); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %s", err, tc.want)
			}
		})
	}
	_, g := load(t, testdata("stories260k"))
	if _, err := g.Entries(checkpoint.I8); err == nil {
		t.Errorf("Entries(I8) gave no error")
	}
}

func TestRoles(t *testing.T) {
	_, g := load(t, testdata("gpt2-random-realtok"))
	roles := g.Roles()
	want := []string{"embed", "pos", "layers.0.attn_norm.weight", "layers.0.attn_norm.bias",
		"layers.0.attn.q.weight", "layers.0.attn.k.weight", "layers.0.attn.v.weight"}
	for i, w := range want {
		if roles[i].Role != w {
			t.Errorf("role %d = %s, want %s", i, roles[i].Role, w)
		}
	}
	if roles[4].Names[0] != "transformer.h.0.attn.c_attn.weight" {
		t.Errorf("q names %v", roles[4].Names)
	}
	if last := roles[len(roles)-1]; last.Role != "final_norm.bias" || !reflect.DeepEqual(last.Names, []string{"transformer.ln_f.bias"}) {
		t.Errorf("last role %+v", last)
	}
}

// tensorData is a tensor for a synthetic checkpoint.
type tensorData struct {
	name  string
	dt    checkpoint.DType
	shape []int
	data  []byte
}

// variant writes a copy of a testdata checkpoint with its config and tensors
// edited, and returns its directory.
func variant(t *testing.T, src string, editCfg func(m map[string]any), editTensors func(ts []tensorData) []tensorData) string {
	t.Helper()
	c := open(t, testdata(src))
	var ts []tensorData
	for _, x := range c.Tensors {
		b, err := x.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tensorData{x.Name, x.DType, slices.Clone(x.Shape), b})
	}
	if editTensors != nil {
		ts = editTensors(ts)
	}
	raw, err := os.ReadFile(filepath.Join(testdata(src), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if editCfg != nil {
		editCfg(m)
	}
	dir := t.TempDir()
	cfg, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	var es []checkpoint.Entry
	for _, x := range ts {
		es = append(es, checkpoint.BytesEntry(x.name, x.dt, x.shape, x.data))
	}
	var b bytes.Buffer
	if err := checkpoint.WriteSafetensors(&b, es, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func find(ts []tensorData, name string) tensorData {
	for _, x := range ts {
		if x.name == name {
			return x
		}
	}
	panic("no tensor " + name)
}

func rename(ts []tensorData, f func(string) string) []tensorData {
	for i := range ts {
		ts[i].name = f(ts[i].name)
	}
	return ts
}

func without(ts []tensorData, drop func(string) bool) []tensorData {
	return slices.DeleteFunc(ts, func(x tensorData) bool { return drop(x.name) })
}

func f32s(vals ...float32) []byte {
	b := make([]byte, 4*len(vals))
	if err := checkpoint.EncodeFloat32(b, vals, checkpoint.F32); err != nil {
		panic(err)
	}
	return b
}

func zerosF32(n int) []byte { return make([]byte, 4*n) }

func set(k string, v any) func(m map[string]any) { return func(m map[string]any) { m[k] = v } }

// llamaBiases adds q/k/v (and o) biases to every stories260k layer.
func llamaBiases(o bool) func(ts []tensorData) []tensorData {
	return func(ts []tensorData) []tensorData {
		for i := 0; i < 5; i++ {
			p := "model.layers." + string(rune('0'+i)) + ".self_attn."
			ts = append(ts, tensorData{p + "q_proj.bias", checkpoint.F32, []int{64}, zerosF32(64)},
				tensorData{p + "k_proj.bias", checkpoint.F32, []int{32}, zerosF32(32)},
				tensorData{p + "v_proj.bias", checkpoint.F32, []int{32}, zerosF32(32)})
			if o {
				ts = append(ts, tensorData{p + "o_proj.bias", checkpoint.F32, []int{64}, zerosF32(64)})
			}
		}
		return ts
	}
}

func TestReadVariants(t *testing.T) {
	for _, tc := range []struct {
		name        string
		src         string
		cfg         func(m map[string]any)
		tensors     func(ts []tensorData) []tensorData
		check       func(t *testing.T, g *Graph)
		writesExact bool // Entries("") writes every source tensor unchanged
	}{
		{name: "gpt2 causal-mask buffers are dropped", src: "gpt2-random-realtok",
			tensors: func(ts []tensorData) []tensorData {
				return append(ts, tensorData{"transformer.h.0.attn.bias", checkpoint.U8, []int{1, 1, 4, 4}, make([]byte, 16)},
					tensorData{"transformer.h.0.attn.masked_bias", checkpoint.F32, []int{}, f32s(-1e4)})
			},
			check: func(t *testing.T, g *Graph) {
				if len(g.Extras) != 2 || g.Extras[0].Rule != RuleDrop || g.Extras[1].Rule != RuleDrop || g.Extras[0].Role != "gpt2.attn.mask" {
					t.Errorf("extras %+v", g.Extras)
				}
				es, _ := g.Entries("")
				for _, e := range es {
					if strings.HasSuffix(e.Name, "h.0.attn.bias") || strings.Contains(e.Name, "masked_bias") {
						t.Errorf("mask %s written", e.Name)
					}
				}
			}},
		{name: "gpt2 lm_head equal to wte stays tied", src: "gpt2-random-realtok",
			tensors: func(ts []tensorData) []tensorData {
				w := find(ts, "transformer.wte.weight")
				return append(ts, tensorData{"lm_head.weight", w.dt, w.shape, w.data})
			},
			check: func(t *testing.T, g *Graph) {
				if !g.Tied || g.Head != nil || len(g.Extras) != 1 || g.Extras[0].Rule != RuleDrop || g.Extras[0].Name != "lm_head.weight" {
					t.Errorf("tied %v head %v extras %+v", g.Tied, g.Head, g.Extras)
				}
			}},
		{name: "gpt2 untied with lm_head", src: "gpt2-random-realtok", cfg: set("tie_word_embeddings", false),
			tensors: func(ts []tensorData) []tensorData {
				w := find(ts, "transformer.wte.weight")
				return append(ts, tensorData{"lm_head.weight", w.dt, w.shape, make([]byte, len(w.data))})
			},
			check: func(t *testing.T, g *Graph) {
				if g.Tied || g.Head == nil {
					t.Errorf("tied %v head %v", g.Tied, g.Head)
				}
			}, writesExact: true},
		{name: "gpt2 LMHead without prefix keeps its names", src: "gpt2-random-realtok",
			tensors: func(ts []tensorData) []tensorData {
				return rename(ts, func(n string) string { return strings.TrimPrefix(n, "transformer.") })
			},
			check: func(t *testing.T, g *Graph) {
				if g.Roles()[0].Names[0] != "wte.weight" {
					t.Errorf("names %v", g.Roles()[0].Names)
				}
			}, writesExact: true},
		{name: "qwen2 q/k/v biases", src: "stories260k", cfg: set("model_type", "qwen2"), tensors: llamaBiases(false),
			check: func(t *testing.T, g *Graph) {
				if g.Layers[4].V.B == nil || g.Layers[4].O.B != nil {
					t.Errorf("biases not read")
				}
				if !g.OutputConfig().AttentionBias {
					t.Errorf("qwen2 output config without attention bias")
				}
			}, writesExact: true},
		{name: "llama attention_bias covers o", src: "stories260k", cfg: set("attention_bias", true), tensors: llamaBiases(true),
			check: func(t *testing.T, g *Graph) {
				if g.Layers[0].O.B == nil || !g.OutputConfig().AttentionBias {
					t.Errorf("o bias not read")
				}
			}, writesExact: true},
		{name: "mistral", src: "stories260k", cfg: set("model_type", "mistral"), writesExact: true},
		{name: "llama rotary inv_freq buffer dropped", src: "stories260k",
			tensors: func(ts []tensorData) []tensorData {
				return append(ts, tensorData{"model.layers.3.self_attn.rotary_emb.inv_freq", checkpoint.F32, []int{4}, zerosF32(4)})
			},
			check: func(t *testing.T, g *Graph) {
				if len(g.Extras) != 1 || g.Extras[0].Rule != RuleDrop {
					t.Errorf("extras %+v", g.Extras)
				}
			}},
		{name: "llama untied", src: "stories260k", cfg: set("tie_word_embeddings", false),
			tensors: func(ts []tensorData) []tensorData {
				w := find(ts, "model.embed_tokens.weight")
				return append(ts, tensorData{"lm_head.weight", w.dt, w.shape, make([]byte, len(w.data))})
			},
			check: func(t *testing.T, g *Graph) {
				if g.Tied || g.Head == nil {
					t.Errorf("tied %v", g.Tied)
				}
			}, writesExact: true},
		{name: "llama base model", src: "stories260k", cfg: set("architectures", []any{"LlamaModel"}),
			tensors: func(ts []tensorData) []tensorData {
				return rename(ts, func(n string) string { return strings.TrimPrefix(n, "model.") })
			},
			check: func(t *testing.T, g *Graph) {
				if !g.Headless {
					t.Errorf("not headless")
				}
			}, writesExact: true},
		{name: "bert legacy gamma/beta", src: "bert-random-realtok",
			tensors: func(ts []tensorData) []tensorData {
				return rename(ts, func(n string) string {
					return strings.NewReplacer("LayerNorm.weight", "LayerNorm.gamma", "LayerNorm.bias", "LayerNorm.beta").Replace(n)
				})
			},
			check: func(t *testing.T, g *Graph) {
				es, err := g.Entries("")
				if err != nil {
					t.Fatal(err)
				}
				m := entryNames(es)
				if _, ok := m["bert.encoder.layer.0.output.LayerNorm.weight"]; !ok {
					t.Errorf("legacy name not modernized: %v", slices.Sorted(func(yield func(string) bool) {
						for k := range m {
							if !yield(k) {
								return
							}
						}
					}))
				}
			}},
		{name: "BertModel with pooler and buffers", src: "bert-random-realtok", cfg: set("architectures", []any{"BertModel"}),
			tensors: func(ts []tensorData) []tensorData {
				ts = without(ts, func(n string) bool { return strings.HasPrefix(n, "cls.") })
				ts = rename(ts, func(n string) string { return strings.TrimPrefix(n, "bert.") })
				return append(ts, tensorData{"pooler.dense.weight", checkpoint.F32, []int{4, 4}, zerosF32(16)},
					tensorData{"pooler.dense.bias", checkpoint.F32, []int{4}, zerosF32(4)},
					tensorData{"embeddings.position_ids", checkpoint.I64, []int{1, 512}, make([]byte, 8*512)})
			},
			check: func(t *testing.T, g *Graph) {
				if !g.Headless || g.MLMTransform.W != nil || g.HeadBias != nil || len(g.Extras) != 3 {
					t.Errorf("headless %v extras %+v", g.Headless, g.Extras)
				}
				// Converting keeps the integer buffer's dtype.
				es, err := g.Entries(checkpoint.BF16)
				if err != nil {
					t.Fatal(err)
				}
				if e := entryNames(es)["embeddings.position_ids"]; e.DType != checkpoint.I64 {
					t.Errorf("position_ids written as %s", e.DType)
				}
			}, writesExact: true},
		{name: "BertForPreTraining", src: "bert-random-realtok", cfg: set("architectures", []any{"BertForPreTraining"}),
			tensors: func(ts []tensorData) []tensorData {
				return append(ts, tensorData{"bert.pooler.dense.weight", checkpoint.F32, []int{4, 4}, zerosF32(16)},
					tensorData{"bert.pooler.dense.bias", checkpoint.F32, []int{4}, zerosF32(4)},
					tensorData{"cls.seq_relationship.weight", checkpoint.F32, []int{2, 4}, zerosF32(8)},
					tensorData{"cls.seq_relationship.bias", checkpoint.F32, []int{2}, zerosF32(2)})
			},
			check: func(t *testing.T, g *Graph) {
				rules := map[string]string{}
				for _, e := range g.Extras {
					rules[e.Name] = e.Rule
				}
				want := map[string]string{"bert.pooler.dense.weight": RuleHidden, "bert.pooler.dense.bias": RuleHidden,
					"cls.seq_relationship.weight": RuleHidden, "cls.seq_relationship.bias": RuleCopy}
				if !reflect.DeepEqual(rules, want) {
					t.Errorf("extras %v", rules)
				}
			}, writesExact: true},
		{name: "bert untied decoder", src: "bert-random-realtok", cfg: set("tie_word_embeddings", false),
			tensors: func(ts []tensorData) []tensorData {
				// As transformers needs it: the untied decoder with its own bias.
				w := find(ts, "bert.embeddings.word_embeddings.weight")
				b := find(ts, "cls.predictions.bias")
				return append(ts, tensorData{"cls.predictions.decoder.weight", w.dt, w.shape, make([]byte, len(w.data))},
					tensorData{"cls.predictions.decoder.bias", b.dt, b.shape, b.data})
			},
			check: func(t *testing.T, g *Graph) {
				if g.Tied || g.Head == nil || g.Headless {
					t.Errorf("tied %v head %v", g.Tied, g.Head)
				}
			}, writesExact: true},
		{name: "bert decoder weight and bias equal to their ties", src: "bert-random-realtok",
			tensors: func(ts []tensorData) []tensorData {
				w := find(ts, "bert.embeddings.word_embeddings.weight")
				b := find(ts, "cls.predictions.bias")
				return append(ts, tensorData{"cls.predictions.decoder.weight", w.dt, w.shape, w.data},
					tensorData{"cls.predictions.decoder.bias", b.dt, b.shape, b.data})
			},
			check: func(t *testing.T, g *Graph) {
				if !g.Tied || len(g.Extras) != 2 || g.Extras[0].Rule != RuleDrop || g.Extras[1].Rule != RuleDrop {
					t.Errorf("extras %+v", g.Extras)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := variant(t, tc.src, tc.cfg, tc.tensors)
			c, g := load(t, dir)
			if tc.check != nil {
				tc.check(t, g)
			}
			if tc.writesExact {
				es, err := g.Entries("")
				if err != nil {
					t.Fatal(err)
				}
				checkSameTensors(t, c, es)
			}
		})
	}
}

// TestBERTUntiedDecoderBias: an untied BERT decoder is written with
// cls.predictions.decoder.bias, equal to cls.predictions.bias, even when the
// source had none; a tied one without it, and the bias counts as one role.
func TestBERTUntiedDecoderBias(t *testing.T) {
	for _, tied := range []bool{false, true} {
		dir := variant(t, "bert-random-realtok", set("tie_word_embeddings", tied), func(ts []tensorData) []tensorData {
			if tied {
				return ts
			}
			w := find(ts, "bert.embeddings.word_embeddings.weight")
			return append(ts, tensorData{"cls.predictions.decoder.weight", w.dt, w.shape, make([]byte, len(w.data))})
		})
		c, g := load(t, dir)
		es, err := g.Entries("")
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]checkpoint.Entry{}
		for _, e := range es {
			byName[e.Name] = e
		}
		db, ok := byName["cls.predictions.decoder.bias"]
		if ok == tied {
			t.Errorf("tied %v: decoder.bias written %v", tied, ok)
		}
		if !tied && ok {
			src, _ := c.Tensor("cls.predictions.bias")
			want, err := src.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if db.DType != src.DType || !slices.Equal(db.Shape, src.Shape) || !bytes.Equal(entryBytes(t, db), want) {
				t.Errorf("decoder.bias %s %v differs from cls.predictions.bias %s %v", db.DType, db.Shape, src.DType, src.Shape)
			}
		}
		n := 0
		for _, r := range g.Roles() {
			if r.Role == "head.bias" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("tied %v: %d head.bias roles, want 1", tied, n)
		}
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     string
		cfg     func(m map[string]any)
		tensors func(ts []tensorData) []tensorData
		want    []string
	}{
		{"unknown tensor", "stories260k", nil, func(ts []tensorData) []tensorData {
			return append(ts, tensorData{"model.foo.weight", checkpoint.F32, []int{2}, zerosF32(2)})
		}, []string{`"model.foo.weight"`, "model.safetensors", "fits no role"}},
		{"several unknown tensors", "gpt2-random-realtok", nil, func(ts []tensorData) []tensorData {
			return append(ts, tensorData{"a", checkpoint.F32, []int{1}, zerosF32(1)}, tensorData{"b", checkpoint.F32, []int{1}, zerosF32(1)})
		}, []string{`"a"`, `1 more unknown: "b"`}},
		{"fewer layers in config", "stories260k", set("num_hidden_layers", 4), nil,
			[]string{`"model.layers.4.`, "layer 4", "num_hidden_layers is 4"}},
		{"absurd layer count", "stories260k", set("num_hidden_layers", 1e12), nil,
			[]string{"1000000000000 layers", "only 47 tensors"}},
		{"more layers in config", "stories260k", set("num_hidden_layers", 6), nil,
			[]string{`"model.layers.5.input_layernorm.weight" is missing`}},
		{"wrong kv heads", "stories260k", set("num_key_value_heads", 8), nil,
			[]string{`"model.layers.0.self_attn.k_proj.weight"`, "[32 64]", "num_key_value_heads×head_dim=64"}},
		{"wrong heads", "stories260k", set("num_attention_heads", 4), nil,
			[]string{`"model.layers.0.self_attn.q_proj.weight"`, "num_attention_heads×head_dim=32"}},
		{"vocab mismatch", "stories260k", set("vocab_size", 500), nil,
			[]string{`"model.embed_tokens.weight"`, "vocab_size=500"}},
		{"ffn mismatch", "gpt2-random-realtok", set("n_inner", 16), nil,
			[]string{`"transformer.h.0.mlp.c_fc.weight"`, "[2 8]", "n_inner=16"}},
		{"gpt2 positions mismatch", "gpt2-random-realtok", set("n_positions", 512), nil,
			[]string{`"transformer.wpe.weight"`, "n_positions=512"}},
		{"bert type vocab mismatch", "bert-random-realtok", set("type_vocab_size", 3), nil,
			[]string{`"bert.embeddings.token_type_embeddings.weight"`, "type_vocab_size=3"}},
		{"missing tensor", "bert-random-realtok", nil, func(ts []tensorData) []tensorData {
			return without(ts, func(n string) bool { return n == "bert.encoder.layer.0.intermediate.dense.bias" })
		}, []string{`"bert.encoder.layer.0.intermediate.dense.bias" is missing`}},
		{"untied without head", "stories260k", set("tie_word_embeddings", false), nil,
			[]string{`"lm_head.weight" is missing`, "tie_word_embeddings is false"}},
		{"untied by default without head", "stories260k", func(m map[string]any) { delete(m, "tie_word_embeddings") }, nil,
			[]string{`"lm_head.weight" is missing`, "has no tie_word_embeddings", "default for llama is false"}},
		{"bert untied without decoder", "bert-random-realtok", set("tie_word_embeddings", false), nil,
			[]string{`"cls.predictions.decoder.weight" is missing`}},
		{"tied head differs", "gpt2-random-realtok", nil, func(ts []tensorData) []tensorData {
			w := find(ts, "transformer.wte.weight")
			return append(ts, tensorData{"lm_head.weight", w.dt, w.shape, make([]byte, len(w.data))})
		}, []string{`"lm_head.weight" differs`, "tie_word_embeddings is true"}},
		{"bias without attention_bias", "stories260k", nil, llamaBiases(false),
			[]string{`_proj.bias"`, "attention_bias is false"}},
		{"attention_bias without biases", "stories260k", set("attention_bias", true), nil,
			[]string{`"model.layers.0.self_attn.q_proj.bias" is missing`}},
		{"qwen2 without biases", "stories260k", set("model_type", "qwen2"), nil,
			[]string{`"model.layers.0.self_attn.q_proj.bias" is missing`}},
		{"integer weight", "stories260k", nil, func(ts []tensorData) []tensorData {
			for i := range ts {
				if ts[i].name == "model.norm.weight" {
					ts[i].dt = checkpoint.I32
				}
			}
			return ts
		}, []string{`"model.norm.weight"`, "dtype I32"}},
		{"not a gpt2 checkpoint", "stories260k", func(m map[string]any) {
			m["model_type"], m["n_embd"], m["n_layer"], m["n_head"] = "gpt2", 64, 5, 8
		}, nil, []string{`"transformer.wte.weight"`, "not a GPT-2 checkpoint"}},
		{"bert decoder bias differs", "bert-random-realtok", nil, func(ts []tensorData) []tensorData {
			b := find(ts, "cls.predictions.bias")
			ones := make([]float32, b.shape[0])
			for i := range ones {
				ones[i] = 1
			}
			return append(ts, tensorData{"cls.predictions.decoder.bias", b.dt, b.shape, f32s(ones...)})
		}, []string{`"cls.predictions.decoder.bias" differs`}},
		{"pooler shape", "bert-random-realtok", nil, func(ts []tensorData) []tensorData {
			return append(ts, tensorData{"bert.pooler.dense.weight", checkpoint.F32, []int{4, 3}, zerosF32(12)})
		}, []string{`"bert.pooler.dense.weight"`, "hidden_size=4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := variant(t, tc.src, tc.cfg, tc.tensors)
			c := open(t, dir)
			g, err := FromCheckpoint(c)
			if err == nil {
				t.Fatalf("no error; graph %+v", g.Dims)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestBareFileHasNoGraph(t *testing.T) {
	c := open(t, filepath.Join(testdata("stories260k"), "model.safetensors"))
	if _, err := FromCheckpoint(c); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("error %v", err)
	}
	if _, err := FromCheckpoint(nil); err == nil {
		t.Errorf("nil checkpoint: no error")
	}
}
