package graph_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/internal/reference"
)

// writeModel writes g as a model directory (model.safetensors and the
// config.json of g.OutputConfig) and returns it.
func writeModel(t *testing.T, g *graph.Graph) string {
	t.Helper()
	dir := t.TempDir()
	es, err := g.Entries("")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := checkpoint.WriteSafetensors(&b, es, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := g.OutputConfig().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// entryBytes runs an entry's Write.
func entryBytes(t *testing.T, e checkpoint.Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e.Write(&b); err != nil {
		t.Fatalf("entry %q: %v", e.Name, err)
	}
	return b.Bytes()
}

// sameAsFile checks that entries are exactly the checkpoint's tensors: the
// same names, dtypes, shapes and bytes.
func sameAsFile(t *testing.T, c *checkpoint.Checkpoint, es []checkpoint.Entry) {
	t.Helper()
	if len(es) != len(c.Tensors) {
		t.Errorf("%d entries for %d tensors", len(es), len(c.Tensors))
	}
	for _, e := range es {
		src, ok := c.Tensor(e.Name)
		if !ok {
			t.Errorf("entry %q is not a tensor of the file", e.Name)
			continue
		}
		want, err := src.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if e.DType != src.DType || !slices.Equal(e.Shape, src.Shape) || !bytes.Equal(entryBytes(t, e), want) {
			t.Errorf("entry %q (%s %v) differs from the file's tensor (%s %v)", e.Name, e.DType, e.Shape, src.DType, src.Shape)
		}
	}
}

// The Qwen3 and Phi-3 layouts: q_norm and k_norm are roles of their own, the
// fused qkv_proj and gate_up_proj split into q, k, v and gate, up by rows and
// fuse again, and a graph read from what it wrote writes the same bytes back,
// by copying the file's tensors and by re-fusing in-memory copies.
func TestQwen3Phi3RoundTrip(t *testing.T) {
	for _, c := range []struct {
		name  string
		spec  reference.Spec
		names map[string][]string // role → checkpoint name
	}{
		{"qwen3-untied", reference.Spec{ModelType: "qwen3", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40},
			map[string][]string{
				"layers.1.attn.q_norm.weight": {"model.layers.1.self_attn.q_norm.weight"},
				"layers.1.attn.k_norm.weight": {"model.layers.1.self_attn.k_norm.weight"},
				"head":                        {"lm_head.weight"},
			}},
		{"qwen3-tied-bias", reference.Spec{ModelType: "qwen3", D: 12, L: 1, H: 2, K: 1, HeadDim: 10, I: 20, V: 30, Tied: true, Bias: true},
			map[string][]string{
				"layers.0.attn.o.bias":        {"model.layers.0.self_attn.o_proj.bias"},
				"layers.0.attn.q_norm.weight": {"model.layers.0.self_attn.q_norm.weight"},
			}},
		{"phi3", reference.Spec{ModelType: "phi3", D: 16, L: 2, H: 4, K: 2, I: 24, V: 40},
			map[string][]string{
				"layers.0.attn.q.weight":   {"model.layers.0.self_attn.qkv_proj.weight"},
				"layers.0.attn.v.weight":   {"model.layers.0.self_attn.qkv_proj.weight"},
				"layers.1.mlp.gate.weight": {"model.layers.1.mlp.gate_up_proj.weight"},
				"layers.1.mlp.up.weight":   {"model.layers.1.mlp.gate_up_proj.weight"},
			}},
		{"phi3-partial-tied", reference.Spec{ModelType: "phi3", D: 32, L: 1, H: 4, I: 24, V: 40, Tied: true, RotaryFraction: 0.75},
			map[string][]string{"layers.0.attn.k.weight": {"model.layers.0.self_attn.qkv_proj.weight"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			roundTrip(t, c.spec, 3, graph.FamilyLlama, c.names, "qkv_proj", "gate_up_proj")
		})
	}
}

// roundTrip writes a synthetic model of spec (float32, seeded), reads it
// back and checks that it is of family, with the written dims, tied head,
// rotary dims, residual layout and activation; that every role holds the
// written values under the family's names (names: some roles' expected
// checkpoint names), AsIs exactly where the stored tensor is not fused (its
// name holds one of fused); and that the graph writes the same bytes back,
// by copying the file's tensors and by re-fusing in-memory copies.
func roundTrip(t *testing.T, spec reference.Spec, seed uint64, family graph.Family, names map[string][]string, fused ...string) {
	t.Helper()
	spec.F32, spec.Seed = true, seed
	src := reference.Synth(spec)
	dir := writeModel(t, src)
	ck, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	g, err := graph.FromCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	if g.Config.ModelType != spec.ModelType || g.Family != family || g.Tied != spec.Tied || g.HeadDim != src.HeadDim ||
		g.KVHeads != src.KVHeads || g.RotaryDim() != src.RotaryDim() || g.ParallelResidual != src.ParallelResidual || g.Act != src.Act {
		t.Errorf("read %s family %s tied %v, head_dim %d, kv heads %d, rotary dims %d, parallel %v, act %s; wrote %+v, parallel %v, act %s",
			g.Config.ModelType, g.Family, g.Tied, g.HeadDim, g.KVHeads, g.RotaryDim(), g.ParallelResidual, g.Act,
			src.Dims, src.ParallelResidual, src.Act)
	}
	// Every role holds what was written, under the family's names.
	want := map[string]graph.Role{}
	for _, r := range src.Roles() {
		want[r.Role] = r
	}
	roles := g.Roles()
	if len(roles) != len(want) {
		t.Errorf("%d roles read, %d written", len(roles), len(want))
	}
	for _, r := range roles {
		w, ok := want[r.Role]
		if !ok {
			t.Errorf("role %s read, not written", r.Role)
			continue
		}
		if n, ok := names[r.Role]; ok && !reflect.DeepEqual(r.Names, n) {
			t.Errorf("role %s: names %v, want %v", r.Role, r.Names, n)
		}
		isFused := slices.ContainsFunc(fused, func(f string) bool { return strings.Contains(r.Names[0], f) })
		if r.AsIs == isFused {
			t.Errorf("role %s (%s): AsIs %v", r.Role, r.Names[0], r.AsIs)
		}
		a, b := reference.Values(t, r.T), reference.Values(t, w.T)
		if !slices.Equal(r.T.Shape(), w.T.Shape()) || !slices.Equal(a, b) {
			t.Errorf("role %s: %v read, %v written, values differ", r.Role, r.T.Shape(), w.T.Shape())
		}
	}
	for role := range names {
		if _, ok := want[role]; !ok {
			t.Errorf("role %s was not written", role)
		}
	}
	es, err := g.Entries("")
	if err != nil {
		t.Fatal(err)
	}
	sameAsFile(t, ck, es)
	// In-memory copies are fused and written again, to the same bytes.
	dense := g.MapTensors(func(x graph.Tensor) graph.Tensor {
		if x == nil {
			return nil
		}
		v, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		return graph.NewDense32(slices.Clone(v), x.DType(), slices.Clone(x.Shape())...)
	})
	es, err = dense.Entries("")
	if err != nil {
		t.Fatal(err)
	}
	sameAsFile(t, ck, es)
}

// A config as transformers writes it keeps every key through a read and a
// write, partial_rotary_factor in both of Phi-3's places included.
func TestQwen3Phi3ConfigKeys(t *testing.T) {
	for _, c := range []struct {
		name string
		spec reference.Spec
		cfg  string
	}{
		{"qwen3", reference.Spec{ModelType: "qwen3", D: 16, L: 2, H: 4, K: 2, HeadDim: 6, I: 24, V: 40, Tied: true}, `{
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": null, "dtype": "float32", "eos_token_id": null, "head_dim": 6, "hidden_act": "silu",
  "hidden_size": 16, "initializer_range": 0.02, "intermediate_size": 24,
  "layer_types": ["full_attention", "full_attention"], "max_position_embeddings": 64,
  "max_window_layers": 28, "model_type": "qwen3", "num_attention_heads": 4, "num_hidden_layers": 2,
  "num_key_value_heads": 2, "pad_token_id": null, "rms_norm_eps": 1e-06,
  "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"}, "sliding_window": null,
  "tie_word_embeddings": true, "transformers_version": "5.23.0", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 40}`},
		{"phi3", reference.Spec{ModelType: "phi3", D: 16, L: 2, H: 4, K: 2, I: 24, V: 40, RotaryFraction: 0.5}, `{
  "architectures": ["Phi3ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "dtype": "float32",
  "embd_pdrop": 0.0, "eos_token_id": 32000, "hidden_act": "silu", "hidden_size": 16,
  "initializer_range": 0.02, "intermediate_size": 24, "max_position_embeddings": 64, "model_type": "phi3",
  "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
  "original_max_position_embeddings": 4096, "pad_token_id": 32000, "partial_rotary_factor": 0.5,
  "resid_pdrop": 0.0, "rms_norm_eps": 1e-05,
  "rope_parameters": {"partial_rotary_factor": 0.5, "rope_theta": 10000.0, "rope_type": "default"},
  "sliding_window": null, "tie_word_embeddings": false, "transformers_version": "5.23.0",
  "use_cache": true, "vocab_size": 40}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.spec.F32 = true
			g := reference.Synth(c.spec)
			cfg, err := checkpoint.ParseConfig([]byte(c.cfg), "config.json")
			if err != nil {
				t.Fatal(err)
			}
			g.Config, g.Positions, g.Eps = cfg, cfg.MaxPositions, cfg.NormEps
			dir := writeModel(t, g)
			ck, err := checkpoint.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			back, err := graph.FromCheckpoint(ck)
			if err != nil {
				t.Fatal(err)
			}
			if back.RotaryDim() != g.RotaryDim() || back.Tied != g.Tied || back.HeadDim != g.HeadDim {
				t.Errorf("rotary dims %d, tied %v, head_dim %d; want %d, %v, %d", back.RotaryDim(), back.Tied, back.HeadDim,
					g.RotaryDim(), g.Tied, g.HeadDim)
			}
			var src, out map[string]any
			if err := json.Unmarshal([]byte(c.cfg), &src); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &out); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(src, out) {
				t.Errorf("config changed:\n%s", data)
			}
		})
	}
}

// A Phi-3 checkpoint whose fused tensor disagrees with the config is refused
// with a message that names the tensor and the config's shape.
func TestPhi3FusedShapeRefused(t *testing.T) {
	g := reference.Synth(reference.Spec{ModelType: "phi3", D: 16, L: 1, H: 4, K: 2, I: 24, V: 40, F32: true})
	dir := writeModel(t, g)
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`"num_key_value_heads": 2`), []byte(`"num_key_value_heads": 1`), 1)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	_, err = graph.FromCheckpoint(ck)
	if err == nil || !strings.Contains(err.Error(), `"model.layers.0.self_attn.qkv_proj.weight" has shape [32 16]`) ||
		!strings.Contains(err.Error(), "[24, hidden_size=16]") {
		t.Errorf("error %v", err)
	}
}
