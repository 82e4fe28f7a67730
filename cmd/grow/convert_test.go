package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/probe"
)

// tensorHashes opens a checkpoint and returns dtype, shape and SHA-256 of every tensor.
func tensorHashes(t *testing.T, path string) map[string]string {
	t.Helper()
	c, err := checkpoint.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := map[string]string{}
	for _, x := range c.Tensors {
		b, err := x.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		out[x.Name] = fmt.Sprintf("%s %v %s", x.DType, x.Shape, hex.EncodeToString(h[:]))
	}
	return out
}

func sameHashes(t *testing.T, want, got map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%d tensors, want %d", len(got), len(want))
	}
	for n, h := range want {
		if got[n] != h {
			t.Errorf("tensor %s: got %q, want %q", n, got[n], h)
		}
	}
}

// shardMetadata returns the __metadata__ of every safetensors file of dir.
func shardMetadata(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shards in %s (%v)", dir, err)
	}
	out := map[string]map[string]string{}
	for _, p := range files {
		f, err := checkpoint.OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = f.Metadata
		f.Close()
	}
	return out
}

func TestConvertKeepsEveryTensorsBytes(t *testing.T) {
	for _, name := range []string{"stories260k", "gpt2-random-realtok", "gpt2-random-toyvocab", "bert-random-realtok"} {
		t.Run(name, func(t *testing.T) {
			src := testModel(name)
			out := filepath.Join(t.TempDir(), "out")
			stdout, stderr, err := growExec(t, "convert", src, "-o", out)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "wrote "+out) || stderr != "" {
				t.Errorf("stdout %q stderr %q", stdout, stderr)
			}
			sameHashes(t, tensorHashes(t, src), tensorHashes(t, out))
			// The config reads back the same, with the source's dtype.
			cs, err := checkpoint.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			co, err := checkpoint.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer co.Close()
			a, b := *cs.Config, *co.Config
			if a.String() != b.String() || a.Tied != b.Tied || a.DType != b.DType || a.NormEps != b.NormEps || !slices.Equal(a.Architectures, b.Architectures) {
				t.Errorf("config changed: %v → %v", &a, &b)
			}
			// Side files are copied byte for byte.
			if !slices.Equal(cs.SideFiles, co.SideFiles) {
				t.Errorf("side files %v, want %v", co.SideFiles, cs.SideFiles)
			}
			for _, s := range cs.SideFiles {
				x, _ := os.ReadFile(filepath.Join(src, s))
				y, err := os.ReadFile(filepath.Join(out, s))
				if err != nil || !bytes.Equal(x, y) {
					t.Errorf("side file %s differs (%v)", s, err)
				}
			}
			// Provenance metadata.
			sum, err := cs.SourceSHA256()
			if err != nil {
				t.Fatal(err)
			}
			for f, m := range shardMetadata(t, out) {
				var params map[string]any
				if err := json.Unmarshal([]byte(m["grow.params"]), &params); err != nil {
					t.Errorf("%s: grow.params %q: %v", f, m["grow.params"], err)
				}
				if m["format"] != "pt" || m["grow.version"] != version || m["grow.operator"] != "convert" ||
					m["grow.source_sha256"] != sum || params["max_shard_size"] != "5GB" || params["dtype"] != "" {
					t.Errorf("%s: metadata %v", f, m)
				}
			}
		})
	}
}

// bf16Round rounds a float32 to the nearest BF16 value, ties to even (an
// independent implementation; the test data has no NaN).
func bf16Round(f float32) float32 {
	b := math.Float32bits(f)
	b += 0x7fff + (b>>16)&1
	return math.Float32frombits(b &^ 0xffff)
}

func TestConvertBF16AndBackEqualsRoundingOnce(t *testing.T) {
	for _, name := range []string{"stories260k", "gpt2-random-realtok", "bert-random-realtok"} {
		t.Run(name, func(t *testing.T) {
			src := testModel(name)
			mid := filepath.Join(t.TempDir(), "bf16")
			back := filepath.Join(t.TempDir(), "f32")
			if _, _, err := growExec(t, "convert", src, "-o", mid, "--dtype", "bf16", "--quiet"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := growExec(t, "convert", mid, "-o", back, "--dtype", "f32", "--quiet"); err != nil {
				t.Fatal(err)
			}
			cs, err := checkpoint.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			cm, err := checkpoint.Open(mid)
			if err != nil {
				t.Fatal(err)
			}
			defer cm.Close()
			cb, err := checkpoint.Open(back)
			if err != nil {
				t.Fatal(err)
			}
			defer cb.Close()
			if cm.Config.DType != "bfloat16" || cb.Config.DType != "float32" {
				t.Errorf("config dtypes %q, %q", cm.Config.DType, cb.Config.DType)
			}
			changed := 0
			for _, x := range cs.Tensors {
				m, ok1 := cm.Tensor(x.Name)
				y, ok2 := cb.Tensor(x.Name)
				if !ok1 || !ok2 || m.DType != checkpoint.BF16 || y.DType != checkpoint.F32 || !slices.Equal(y.Shape, x.Shape) {
					t.Fatalf("tensor %s missing or wrong dtype", x.Name)
				}
				a, err := x.Float32()
				if err != nil {
					t.Fatal(err)
				}
				b, err := y.Float32()
				if err != nil {
					t.Fatal(err)
				}
				for i := range a {
					if want := bf16Round(a[i]); b[i] != want {
						t.Fatalf("%s[%d]: %v → %v, want %v", x.Name, i, a[i], b[i], want)
					}
					if b[i] != a[i] {
						changed++
					}
				}
			}
			if changed == 0 {
				t.Errorf("no value changed: the test checks nothing")
			}
		})
	}
}

func TestConvertSharded(t *testing.T) {
	for _, name := range []string{"stories260k", "gpt2-random-realtok", "bert-random-realtok"} {
		t.Run(name, func(t *testing.T) {
			src := testModel(name)
			out := filepath.Join(t.TempDir(), "out")
			if _, _, err := growExec(t, "convert", src, "-o", out, "--max-shard-size", "4KB", "--quiet"); err != nil {
				t.Fatal(err)
			}
			meta := shardMetadata(t, out)
			if len(meta) < 3 {
				t.Fatalf("%d shards", len(meta))
			}
			n := len(meta)
			for f, m := range meta {
				if !regexp.MustCompile(`^model-\d{5}-of-\d{5}\.safetensors$`).MatchString(f) || !strings.HasSuffix(f, "-of-"+pad5(n)+".safetensors") {
					t.Errorf("shard name %s", f)
				}
				if m["format"] != "pt" || m["grow.operator"] != "convert" {
					t.Errorf("%s: metadata %v", f, m)
				}
			}
			raw, err := os.ReadFile(filepath.Join(out, "model.safetensors.index.json"))
			if err != nil {
				t.Fatal(err)
			}
			var idx struct {
				Metadata  map[string]any    `json:"metadata"`
				WeightMap map[string]string `json:"weight_map"`
			}
			if err := json.Unmarshal(raw, &idx); err != nil {
				t.Fatal(err)
			}
			hashes := tensorHashes(t, out) // Open validates the index against the shards
			if len(idx.WeightMap) != len(hashes) {
				t.Errorf("index names %d tensors, shards hold %d", len(idx.WeightMap), len(hashes))
			}
			c, err := checkpoint.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, x := range c.Tensors {
				total += x.ByteSize()
				if filepath.Base(x.File) != idx.WeightMap[x.Name] {
					t.Errorf("%s is in %s, index says %s", x.Name, x.File, idx.WeightMap[x.Name])
				}
			}
			c.Close()
			if idx.Metadata["total_size"] != float64(total) {
				t.Errorf("total_size %v, tensors hold %d bytes", idx.Metadata["total_size"], total)
			}
			sameHashes(t, tensorHashes(t, src), hashes)
			// Converting the shards back into one file gives the source's tensors again.
			one := filepath.Join(t.TempDir(), "one")
			if _, _, err := growExec(t, "convert", out, "-o", one, "--quiet"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(one, "model.safetensors")); err != nil {
				t.Errorf("not one file: %v", err)
			}
			sameHashes(t, tensorHashes(t, src), tensorHashes(t, one))
		})
	}
}

func pad5(n int) string { return fmt.Sprintf("%05d", n) }

func TestConvertErrors(t *testing.T) {
	existing := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  func(t *testing.T) []string
		wants []string
	}{
		{"missing model", func(t *testing.T) []string {
			return []string{filepath.Join(t.TempDir(), "nope"), "-o", filepath.Join(t.TempDir(), "o")}
		}, []string{"nope", "no such model"}},
		{"unknown dtype", func(t *testing.T) []string {
			return []string{testModel("stories260k"), "-o", filepath.Join(t.TempDir(), "o"), "--dtype", "f8"}
		}, []string{"--dtype", `"f8"`}},
		{"integer dtype", func(t *testing.T) []string {
			return []string{testModel("stories260k"), "-o", filepath.Join(t.TempDir(), "o"), "--dtype", "i32"}
		}, []string{"--dtype", "float"}},
		{"no output", func(t *testing.T) []string { return []string{testModel("stories260k")} }, []string{"-o OUT"}},
		{"output exists", func(t *testing.T) []string { return []string{testModel("stories260k"), "-o", existing} },
			[]string{existing, "already exists", "--force"}},
		{"output is the source", func(t *testing.T) []string {
			return []string{testModel("stories260k"), "-o", testModel("stories260k"), "--force"}
		}, []string{"is the source"}},
		{"output contains the source", func(t *testing.T) []string {
			return []string{testModel("stories260k"), "-o", testModel(""), "--force"}
		}, []string{"contains the source"}},
		{"bad shard size", func(t *testing.T) []string {
			return []string{testModel("stories260k"), "-o", filepath.Join(t.TempDir(), "o"), "--max-shard-size", "lots"}
		}, []string{"--max-shard-size"}},
		{"bare file", func(t *testing.T) []string {
			return []string{filepath.Join(testModel("stories260k"), "model.safetensors"), "-o", filepath.Join(t.TempDir(), "o")}
		}, []string{"config.json"}},
		{"missing config key", func(t *testing.T) []string {
			return []string{copyModel(t, "gpt2-random-realtok", modelEdit{cfg: func(m map[string]any) { delete(m, "n_layer") }}), "-o", filepath.Join(t.TempDir(), "o")}
		}, []string{"config.json", `"n_layer"`, "missing"}},
		{"contradictory config", func(t *testing.T) []string {
			return []string{copyModel(t, "bert-random-realtok", modelEdit{cfg: func(m map[string]any) { m["num_attention_heads"] = 3 }}), "-o", filepath.Join(t.TempDir(), "o")}
		}, []string{"config.json", `"num_attention_heads"`, "hidden_size 4"}},
		{"unknown model type", func(t *testing.T) []string {
			return []string{copyModel(t, "bert-random-realtok", modelEdit{cfg: func(m map[string]any) { m["model_type"] = "roberta" }}), "-o", filepath.Join(t.TempDir(), "o")}
		}, []string{"config.json", `"model_type"`, `"roberta"`}},
		{"unknown tensor", func(t *testing.T) []string {
			return []string{copyModel(t, "stories260k", modelEdit{extra: []checkpoint.Entry{
				checkpoint.BytesEntry("model.layers.0.self_attn.q_norm.weight", checkpoint.F32, []int{8}, make([]byte, 32))}}), "-o", filepath.Join(t.TempDir(), "o")}
		}, []string{"model.safetensors", `"model.layers.0.self_attn.q_norm.weight"`, "fits no role"}},
		{"wrong head count", func(t *testing.T) []string {
			return []string{copyModel(t, "stories260k", modelEdit{cfg: func(m map[string]any) { m["num_attention_heads"] = 16 }}), "-o", filepath.Join(t.TempDir(), "o")}
		}, []string{`"model.layers.0.self_attn.q_proj.weight"`, "num_attention_heads×head_dim=128"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args(t)
			_, _, err := growExec(t, append([]string{"convert"}, args...)...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// Nothing was written.
			for i, a := range args {
				if a == "-o" && i+1 < len(args) && args[i+1] != existing && !strings.Contains(args[i+1], "testdata") {
					if _, err := os.Stat(args[i+1]); err == nil {
						t.Errorf("output %s was created", args[i+1])
					}
				}
			}
		})
	}
	// With --force an existing output is replaced.
	if _, _, err := growExec(t, "convert", testModel("gpt2-random-toyvocab"), "-o", existing, "--force", "--quiet"); err != nil {
		t.Fatal(err)
	}
	sameHashes(t, tensorHashes(t, testModel("gpt2-random-toyvocab")), tensorHashes(t, existing))
}

func TestConvertQuietAndHelp(t *testing.T) {
	out := filepath.Join(t.TempDir(), "o")
	stdout, stderr, err := growExec(t, "convert", testModel("gpt2-random-toyvocab"), "-o", out, "--quiet")
	if err != nil || stdout != "" || stderr != "" {
		t.Errorf("quiet: err %v stdout %q stderr %q", err, stdout, stderr)
	}
	for _, cmd := range []string{"convert", "inspect"} {
		stdout, _, err := growExec(t, cmd, "--help")
		if err != nil || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "grow "+cmd+" testdata/") {
			t.Errorf("%s --help: %v\n%s", cmd, err, stdout)
		}
	}
}

func TestBarProgress(t *testing.T) {
	var buf bytes.Buffer
	p := &barProgress{w: &buf, desc: "convert"}
	p.Start(3, 3000)
	p.Add(1000, true)
	p.Add(1000, false)
	p.Add(1000, true)
	p.Add(0, true)
	p.Finish()
	out := buf.String()
	if !strings.Contains(out, "3/3 tensors") || !strings.Contains(out, "100%") {
		t.Errorf("bar output %q", out)
	}
	// The last drawing of the bar (after the last tensor) ends its line, so that
	// what the command prints next starts on a line of its own.
	if last := out[strings.LastIndex(out, "\r")+1:]; !strings.Contains(out, "3/3 tensors") || !strings.HasSuffix(last, "\n") {
		t.Errorf("bar output does not end with a newline after its last drawing: %q", out)
	}
	// Not a terminal, or quiet: no bar.
	if newProgress(&buf, "x", false) != nil || newProgress(os.Stderr, "x", true) != nil {
		t.Errorf("progress bar for a buffer or with --quiet")
	}
}

// TestConvertKeepsConfigDType: without --dtype every tensor keeps its dtype, and
// config.json keeps the source's torch_dtype, also when the tensors' dtypes are
// mixed (here an F16 embedding in an F32 model whose config says float32);
// transformers loads the model in that dtype, so changing it would change what
// users get. With --dtype, it is the new dtype.
func TestConvertKeepsConfigDType(t *testing.T) {
	ck, err := checkpoint.Open(testModel("stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	var entries []checkpoint.Entry
	for _, tn := range ck.Tensors {
		if tn.Name == "model.embed_tokens.weight" {
			entries = append(entries, checkpoint.ConvertEntry(tn, tn.Name, checkpoint.F16))
		} else {
			entries = append(entries, checkpoint.CopyEntry(tn))
		}
	}
	mixed := filepath.Join(t.TempDir(), "mixed")
	if err := checkpoint.WriteDir(mixed, entries, checkpoint.WriteOptions{Config: ck.Config, SideFilesDir: ck.Dir, SideFiles: ck.SideFiles}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags     []string
		wantCfg   string
		wantEmbed checkpoint.DType
	}{
		{nil, "float32", checkpoint.F16},
		{[]string{"--dtype", "bf16"}, "bfloat16", checkpoint.BF16},
	} {
		out := filepath.Join(t.TempDir(), "out")
		if _, _, err := growExec(t, append([]string{"convert", mixed, "-o", out, "-q"}, tc.flags...)...); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(out, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg["torch_dtype"] != tc.wantCfg {
			t.Errorf("convert %v: config.json torch_dtype = %v, want %q", tc.flags, cfg["torch_dtype"], tc.wantCfg)
		}
		oc, err := checkpoint.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if tn, ok := oc.Tensor("model.embed_tokens.weight"); !ok || tn.DType != tc.wantEmbed {
			t.Errorf("convert %v: embedding dtype %v, want %s", tc.flags, tn, tc.wantEmbed)
		}
		oc.Close()
	}
}

// TestConvertKeepsTheMapping: converting a grown checkpoint keeps the operator's
// mapping, so grow check still judges it against the small source; a dtype
// that rounds the values is recorded as the storage dtype (the check rounds the
// source to it), and F16, whose subnormals can round scaled values, as rounding.
func TestConvertKeepsTheMapping(t *testing.T) {
	dir := t.TempDir()
	src := testModel("stories260k")
	grown := filepath.Join(dir, "x2")
	if _, _, err := growExec(t, "expand", src, "-o", grown, "--method", "hypercloning", "--width-factor", "2", "--no-check", "--quiet"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dtype, storage, rounded string
	}{
		{"", "", ""},
		{"f64", "", ""},
		{"bf16", "BF16", ""},
		{"f16", "F16", "F16"},
	}
	for _, tc := range tests {
		out := filepath.Join(dir, "conv-"+tc.dtype)
		args := []string{"convert", grown, "-o", out, "--quiet"}
		if tc.dtype != "" {
			args = append(args, "--dtype", tc.dtype)
		}
		if _, _, err := growExec(t, args...); err != nil {
			t.Fatal(err)
		}
		m := readMapping(t, out)
		if m.Operator != "hypercloning" || m.Class != probe.Exact || m.Storage != tc.storage || m.Rounded != tc.rounded {
			t.Errorf("dtype %q: mapping %+v, want hypercloning EXACT storage %q rounded %q", tc.dtype, m, tc.storage, tc.rounded)
		}
		stdout, _, err := growExec(t, "check", src, out, "--json")
		rep := checkReport(t, stdout)
		if !rep.Pass || rep.Class != probe.Exact || err != nil {
			t.Errorf("dtype %q: check class %s pass %v (err %v), want EXACT and a pass", tc.dtype, rep.Class, rep.Pass, err)
		}
	}
}

func readMapping(t *testing.T, dir string) *probe.Mapping {
	t.Helper()
	ck, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	m, ok, err := probe.ReadMapping(ck)
	if err != nil || !ok {
		t.Fatalf("%s: mapping %v %v", dir, ok, err)
	}
	return m
}

// editTensor rewrites dir/model.safetensors with the first element of tensor
// name changed by delta, keeping every other tensor and the metadata.
func editTensor(t *testing.T, dir, name string, delta float32) {
	t.Helper()
	editTensors(t, dir, map[string]func(v []float32, shape []int){name: func(v []float32, _ []int) { v[0] += delta }})
}

// editTensors rewrites dir/model.safetensors with each named tensor changed
// by its function (given the values, row-major, and the shape), keeping
// every other tensor and the metadata.
func editTensors(t *testing.T, dir string, edits map[string]func(v []float32, shape []int)) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := checkpoint.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var es []checkpoint.Entry
	found := 0
	for _, x := range f.Tensors {
		edit, ok := edits[x.Name]
		if !ok {
			es = append(es, checkpoint.CopyEntry(x))
			continue
		}
		found++
		es = append(es, checkpoint.Float32Entry(x.Name, x.DType, x.Shape, func() ([]float32, error) {
			v, err := x.Float32()
			if err != nil {
				return nil, err
			}
			edit(v, x.Shape)
			return v, nil
		}))
	}
	if found != len(edits) {
		t.Fatalf("%s has %d of the %d tensors to edit", path, found, len(edits))
	}
	var buf bytes.Buffer
	err = checkpoint.WriteSafetensors(&buf, es, f.Metadata)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConvertThenCheck: grow check judges a BF16 or F16 conversion of a model,
// plain or grown, by the rounding of its dtype: it passes (exit 0), and a
// single weight of the converted file changed by 1e-2 fails it (exit 1).
func TestConvertThenCheck(t *testing.T) {
	dir := t.TempDir()
	src := testModel("stories260k")
	grown := filepath.Join(dir, "x2")
	if _, _, err := growExec(t, "expand", src, "-o", grown, "--method", "hypercloning", "--width-factor", "2", "--no-check", "--quiet"); err != nil {
		t.Fatal(err)
	}
	for _, model := range []struct{ name, path, tensor, class string }{
		{"stories260k", src, "model.layers.2.self_attn.q_proj.weight", probe.BitExact},
		{"hypercloned", grown, "model.layers.4.mlp.down_proj.weight", probe.Exact},
	} {
		for _, dt := range []string{"bf16", "f16"} {
			name := model.name + "-" + dt
			out := filepath.Join(dir, name)
			if _, _, err := growExec(t, "convert", model.path, "-o", out, "--dtype", dt, "--quiet"); err != nil {
				t.Fatal(err)
			}
			stdout, _, err := growExec(t, "check", src, out, "--json")
			rep := checkReport(t, stdout)
			if exitCode(err) != 0 || !rep.Pass || rep.Class != model.class {
				t.Errorf("%s: check of the conversion: exit %d (%v), class %s, pass %v, want %s and exit 0",
					name, exitCode(err), err, rep.Class, rep.Pass, model.class)
			}
			editTensor(t, out, model.tensor, 1e-2)
			stdout, _, err = growExec(t, "check", src, out, "--json")
			rep = checkReport(t, stdout)
			if exitCode(err) != 1 || rep.Pass {
				t.Errorf("%s: check after %s += 1e-2: exit %d (%v), pass %v, want a fail and exit 1\n%s",
					name, model.tensor, exitCode(err), err, rep.Pass, rep.Verdict)
			}
		}
	}
}
