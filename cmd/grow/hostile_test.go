package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// A hostile input: a model directory (or file) built by setup, a command
// line run on it, and the exact error expected.
type hostile struct {
	name string
	// setup returns the model path the command reads (in a temporary
	// directory; testdata models may be named directly).
	setup func(t *testing.T) string
	// args builds the command line from the model path and an output
	// directory that must not exist afterwards.
	args func(model, out string) []string
	code int
	// want is the whole first line of stderr, with the model's path as
	// MODEL (and its directory as DIR).
	want string
}

// stBytes builds a safetensors file: the 8-byte little-endian header length,
// the header and the data.
func stBytes(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

// modelDir copies a testdata model into a temporary directory and replaces
// (or, with nil, removes) the files named in files.
func modelDir(t *testing.T, name string, files map[string][]byte) string {
	t.Helper()
	dir := copyDir(t, testModel(name))
	for f, b := range files {
		p := filepath.Join(dir, f)
		if b == nil {
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withHeader returns stories260k's model.safetensors with its header
// changed by edit (the data kept as it is).
func withHeader(t *testing.T, edit func(h map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testModel("stories260k"), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var h map[string]any
	if err := json.Unmarshal(b[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return stBytes(string(js), b[8+n:])
}

// record returns the header record of tensor name as a map.
func record(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }

// mutate returns a setup that copies model name and applies edit to the copy.
func mutate(name string, edit func(t *testing.T, dir string)) func(t *testing.T) string {
	return func(t *testing.T) string {
		dir := copyDir(t, testModel(name))
		edit(t, dir)
		return dir
	}
}

// setValue returns an edit that sets one element of a tensor.
func setValue(tensor string, i int, v float32) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		rewriteModel(t, dir, func(name string, x []float32) bool {
			if name != tensor {
				return false
			}
			x[i] = v
			return true
		}, nil)
	}
}

// setMapping returns an edit that writes js as the mapping in the metadata
// (and removes the config copy).
func setMapping(js string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		rewriteModel(t, dir, nil, func(m map[string]string) { m["grow.mapping"] = js })
		editConfig(t, dir, func(m map[string]any) { delete(m, "grow_mapping") })
	}
}

// setConfig returns an edit of config.json.
func setConfig(edit func(m map[string]any)) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) { editConfig(t, dir, edit) }
}

// dirHashes returns the SHA-256 of every file under root (root may be a file).
func dirHashes(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a dangling link, say: its absence is compared below
		}
		s := sha256.Sum256(b)
		out[p] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runHostile runs one case: the exact first line of stderr and the exit
// status, no panic, no hang, nothing at -o or beside it, the input unchanged.
func runHostile(t *testing.T, tc hostile) {
	model := tc.setup(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	args := tc.args(model, out)
	before := dirHashes(t, model)
	type result struct {
		code           int
		stdout, stderr string
		panicked       any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			r.panicked = recover()
			done <- r
		}()
		var stdout, stderr bytes.Buffer
		r.code = runWith(args, &stdout, &stderr)
		r.stdout, r.stderr = stdout.String(), stderr.String()
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("grow %s: no answer after 2 minutes", strings.Join(args, " "))
	}
	if r.panicked != nil {
		t.Fatalf("grow %s panicked: %v", strings.Join(args, " "), r.panicked)
	}
	first, _, _ := strings.Cut(r.stderr, "\n")
	dir := model
	if st, err := os.Stat(model); err == nil && !st.IsDir() {
		dir = filepath.Dir(model)
	}
	want := strings.NewReplacer("MODEL", model, "DIR", dir).Replace(tc.want)
	if os.Getenv("GROW_HOSTILE_PRINT") != "" {
		t.Logf("WANT\t%s\t%s", tc.name, strings.NewReplacer(model, "MODEL", dir, "DIR").Replace(first))
	}
	if r.code != tc.code || first != want {
		t.Errorf("grow %s:\nexit %d, first line of stderr\n  %q\nwant exit %d and\n  %q\nstdout: %s", strings.Join(args, " "),
			r.code, first, tc.code, want, r.stdout)
	}
	if ents, _ := os.ReadDir(parent); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("grow %s left %v beside -o", strings.Join(args, " "), names)
	}
	after := dirHashes(t, model)
	if fmt.Sprint(sortedPairs(before)) != fmt.Sprint(sortedPairs(after)) {
		t.Errorf("grow %s changed its input %s", strings.Join(args, " "), model)
	}
}

func sortedPairs(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Command lines.
var (
	inspectArgs = func(m, _ string) []string { return []string{"inspect", m} }
	convertArgs = func(m, o string) []string { return []string{"convert", m, "-o", o, "--quiet"} }
	probeArgs   = func(m, _ string) []string { return []string{"probe", m, "--ids", "1,2,3"} }
	checkSelf   = func(m, _ string) []string { return []string{"check", m, m, "--probes", "2", "--seq-len", "8"} }
	checkFrom   = func(src string) func(m, _ string) []string {
		return func(m, _ string) []string {
			return []string{"check", testModel(src), m, "--probes", "2", "--seq-len", "8"}
		}
	}
	expandArgs = func(m, o string) []string {
		return []string{"expand", m, "-o", o, "--method", "hypercloning", "--width-factor", "2", "--quiet", "--probes", "2", "--seq-len", "8"}
	}
)

// TestHostileInputs: malformed and hostile inputs, each refused with the
// exact error expected (issue 8).
func TestHostileInputs(t *testing.T) {
	cases := hostileCases()
	if len(cases) < 60 {
		t.Errorf("%d hostile inputs, want at least 60", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runHostile(t, tc) })
	}
}

func hostileCases() []hostile {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	st := func(files map[string][]byte) func(t *testing.T) string {
		return func(t *testing.T) string { return modelDir(t, "stories260k", files) }
	}
	header := func(edit func(h map[string]any)) func(t *testing.T) string {
		return func(t *testing.T) string {
			return modelDir(t, "stories260k", map[string][]byte{"model.safetensors": withHeader(t, edit)})
		}
	}
	tokFile := func(name, data string) func(t *testing.T) string {
		return st(map[string][]byte{name: []byte(data)})
	}
	return []hostile{
		// safetensors headers
		{"empty weights file", st(map[string][]byte{"model.safetensors": {}}), inspectArgs, 1, "grow inspect: checkpoint: MODEL/model.safetensors: file is 0 bytes, too short for the 8-byte header length"},
		{"7-byte weights file", st(map[string][]byte{"model.safetensors": make([]byte, 7)}), convertArgs, 1, "grow convert: checkpoint: MODEL/model.safetensors: file is 7 bytes, too short for the 8-byte header length"},
		{"header length past the end", st(map[string][]byte{"model.safetensors": stBytes("{}", nil)[:9]}), convertArgs, 1, "grow convert: checkpoint: MODEL/model.safetensors: header length 2 runs past the end of the file (9 bytes)"},
		{"huge header length", st(map[string][]byte{"model.safetensors": append([]byte{255, 255, 255, 255, 255, 255, 255, 255}, '{', '}')}), probeArgs, 1, "grow probe: checkpoint: MODEL/model.safetensors: header length 18446744073709551615 exceeds the limit of 100000000 bytes"},
		{"header not JSON", st(map[string][]byte{"model.safetensors": stBytes("hello", nil)}), convertArgs, 1, "grow convert: checkpoint: MODEL/model.safetensors: header is not valid JSON: invalid character 'h' looking for beginning of value"},
		{"header is an array", st(map[string][]byte{"model.safetensors": stBytes("[1]", nil)}), checkSelf, 1, "grow check: source: checkpoint: MODEL/model.safetensors: header is not a JSON object"},
		{"unknown dtype", header(func(h map[string]any) { record(h, "model.norm.weight")["dtype"] = "F8_E4M3" }), convertArgs, 1, `grow convert: checkpoint: MODEL/model.safetensors: tensor "model.norm.weight": unknown dtype "F8_E4M3"`},
		{"negative shape", header(func(h map[string]any) { record(h, "model.norm.weight")["shape"] = []any{-64} }), inspectArgs, 1, `grow inspect: checkpoint: MODEL/model.safetensors: tensor "model.norm.weight": shape: element 0 (-64) is not a non-negative integer up to 9223372036854775807`},
		{"offsets past the data", header(func(h map[string]any) {
			record(h, "model.norm.weight")["data_offsets"] = []any{1040000, 1040256 + 1e6}
		}), convertArgs, 1, `grow convert: checkpoint: MODEL/model.safetensors: tensor "model.norm.weight": data offsets [1040000, 2040256) leave a gap of 128 bytes after the previous tensor "model.layers.4.self_attn.v_proj.weight", which ends at 1039872`},
		{"reversed offsets", header(func(h map[string]any) {
			o := record(h, "model.norm.weight")["data_offsets"].([]any)
			o[0], o[1] = o[1], o[0]
		}), convertArgs, 1, `grow convert: checkpoint: MODEL/model.safetensors: tensor "model.norm.weight": data offsets [1040128, 1039872) end before they begin`},
		{"shape disagrees with offsets", header(func(h map[string]any) { record(h, "model.norm.weight")["shape"] = []any{65} }), probeArgs, 1, `grow probe: checkpoint: MODEL/model.safetensors: tensor "model.norm.weight": data offsets [1039872, 1040128) hold 256 bytes, but shape [65] of dtype F32 needs 260`},
		{"overlapping tensors", header(func(h map[string]any) {
			record(h, "model.norm.weight")["data_offsets"] = record(h, "model.embed_tokens.weight")["data_offsets"]
			record(h, "model.norm.weight")["shape"] = record(h, "model.embed_tokens.weight")["shape"]
		}), convertArgs, 1, `grow convert: checkpoint: MODEL/model.safetensors: tensor "model.norm.weight": data offsets [0, 131072) overlap the previous tensor "model.embed_tokens.weight", which ends at 131072`},
		{"metadata value not a string", header(func(h map[string]any) { h["__metadata__"] = map[string]any{"format": 1} }), convertArgs, 1, `grow convert: checkpoint: MODEL/model.safetensors: "__metadata__" key "format" is a number, not a string`},
		{"unexpected record key", header(func(h map[string]any) { record(h, "model.norm.weight")["strides"] = []any{1} }), inspectArgs, 1, `grow inspect: checkpoint: MODEL/model.safetensors: tensor "model.norm.weight": unexpected key "strides" in the entry (want dtype, shape and data_offsets)`},
		{"missing tensor", header(func(h map[string]any) { delete(h, "model.norm.weight") }), convertArgs, 1, "grow convert: checkpoint: MODEL/model.safetensors: 256 bytes after the end of the tensor data are not covered by any tensor (data ends at byte 1044649, file has 1044905 bytes)"},
		{"truncated data", func(t *testing.T) string {
			b, _ := os.ReadFile(filepath.Join(testModel("stories260k"), "model.safetensors"))
			return modelDir(t, "stories260k", map[string][]byte{"model.safetensors": b[:len(b)-100]})
		}, convertArgs, 1, "grow convert: checkpoint: MODEL/model.safetensors: file is truncated: the tensor data needs 1040128 bytes after the 4856-byte header, the file has 1044892 bytes in all"},
		{"bare file without config", func(t *testing.T) string {
			return filepath.Join(modelDir(t, "stories260k", nil), "model.safetensors")
		}, convertArgs, 1, "grow convert: MODEL: a bare safetensors file has no config.json; give the model directory"},

		// shard indexes
		{"index not JSON", sharded(func(t *testing.T, dir string) { writeFile(t, dir, "model.safetensors.index.json", "{") }), convertArgs, 1, "grow convert: checkpoint: MODEL/model.safetensors.index.json: not valid JSON: EOF"},
		{"index names a missing shard", sharded(func(t *testing.T, dir string) {
			editIndex(t, dir, func(wm map[string]any) { wm["model.norm.weight"] = "model-00009-of-00009.safetensors" })
		}), inspectArgs, 1, `grow inspect: checkpoint: MODEL/model.safetensors.index.json: shard "model-00009-of-00009.safetensors" does not exist in MODEL`},
		{"index escapes the directory", sharded(func(t *testing.T, dir string) {
			editIndex(t, dir, func(wm map[string]any) { wm["model.norm.weight"] = "../model.safetensors" })
		}), convertArgs, 1, `grow convert: checkpoint: MODEL/model.safetensors.index.json: weight_map: tensor "model.norm.weight": shard "../model.safetensors" contains ".." (the shard must be in the index's directory)`},
		{"index misses a tensor", sharded(func(t *testing.T, dir string) {
			editIndex(t, dir, func(wm map[string]any) { delete(wm, "model.norm.weight") })
		}), convertArgs, 1, `grow convert: checkpoint: MODEL/model-00004-of-00004.safetensors: tensor "model.norm.weight" is not listed in MODEL/model.safetensors.index.json`},
		{"index names a tensor no shard has", sharded(func(t *testing.T, dir string) {
			editIndex(t, dir, func(wm map[string]any) { wm["model.ghost"] = wm["model.norm.weight"] })
		}), probeArgs, 1, `grow probe: checkpoint: MODEL/model.safetensors.index.json: tensor "model.ghost" is not in the shard it names, "model-00004-of-00004.safetensors"`},
		{"index weight_map not an object", sharded(func(t *testing.T, dir string) {
			writeFile(t, dir, "model.safetensors.index.json", `{"metadata": {}, "weight_map": ["a"]}`)
		}), convertArgs, 1, "grow convert: checkpoint: MODEL/model.safetensors.index.json: weight_map is not an object"},
		{"index and single file both present", sharded(func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(testModel("stories260k"), "model.safetensors"))
			writeFile(t, dir, "model.safetensors", string(b))
		}), convertArgs, 1, "grow convert: checkpoint: MODEL: has both model.safetensors and model.safetensors.index.json; keep one"},

		// config.json
		{"config not JSON", tokFile("config.json", "{"), convertArgs, 1, "grow convert: checkpoint: MODEL/config.json: not a JSON object: unexpected end of JSON input"},
		{"config with NaN (as Python writes it)", mutate("stories260k", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			writeFile(t, dir, "config.json", strings.Replace(string(b), `"rms_norm_eps": 1e-05`, `"rms_norm_eps": NaN`, 1))
		}), convertArgs, 1, "grow convert: checkpoint: MODEL/config.json: not a JSON object: invalid character 'N' looking for beginning of value"},
		{"config is an array", tokFile("config.json", "[]"), inspectArgs, 1, "grow inspect: checkpoint: MODEL/config.json: not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{"config is a directory", func(t *testing.T) string {
			dir := modelDir(t, "stories260k", map[string][]byte{"config.json": nil})
			if err := os.Mkdir(filepath.Join(dir, "config.json"), 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}, convertArgs, 1, "grow convert: checkpoint: read MODEL/config.json: is a directory"},
		{"no config", st(map[string][]byte{"config.json": nil}), convertArgs, 1, "grow convert: checkpoint: MODEL: no config.json: a model directory needs one (pass a .safetensors file to read bare weights)"},
		{"missing hidden_size", mutate("stories260k", setConfig(func(m map[string]any) { delete(m, "hidden_size") })), convertArgs, 1, `grow convert: checkpoint: MODEL/config.json: key "hidden_size": missing (a positive integer is required)`},
		{"hidden_size a string", mutate("stories260k", setConfig(func(m map[string]any) { m["hidden_size"] = "64" })), convertArgs, 1, `grow convert: checkpoint: MODEL/config.json: key "hidden_size": want a positive integer, got the string "64"`},
		{"negative layers", mutate("stories260k", setConfig(func(m map[string]any) { m["num_hidden_layers"] = -5 })), probeArgs, 1, `grow probe: checkpoint: MODEL/config.json: key "num_hidden_layers": must be positive, got -5`},
		{"heads do not divide", mutate("stories260k", setConfig(func(m map[string]any) { m["num_key_value_heads"] = 3 })), convertArgs, 1, `grow convert: checkpoint: MODEL/config.json: key "num_key_value_heads": 3 does not divide num_attention_heads 8`},
		{"vocab disagrees with tensors", mutate("stories260k", setConfig(func(m map[string]any) { m["vocab_size"] = 1000 })), convertArgs, 1, `grow convert: graph: MODEL/model.safetensors: tensor "model.embed_tokens.weight" has shape [512 64], but MODEL/config.json implies [vocab_size=1000, hidden_size=64]`},
		{"unknown model type", mutate("stories260k", setConfig(func(m map[string]any) { m["model_type"] = "mamba" })), inspectArgs, 1, `grow inspect: checkpoint: MODEL/config.json: key "model_type": unsupported model type "mamba" (grow knows bert, gemma, gpt2, gpt_neox, llama, mistral, olmo2, opt, phi3, qwen2, qwen3)`},
		{"absurd hidden size", mutate("stories260k", setConfig(func(m map[string]any) { m["hidden_size"] = 1e15 })), convertArgs, 1, `grow convert: checkpoint: MODEL/config.json: key "hidden_size": want a positive integer, got 1e+15`},
		{"more layers than tensors", mutate("stories260k", setConfig(func(m map[string]any) { m["num_hidden_layers"] = 6 })), convertArgs, 1, `grow convert: graph: MODEL: tensor "model.layers.5.input_layernorm.weight" is missing (the llama table needs it for layers.5.attn_norm.weight)`},
		{"unknown activation", mutate("stories260k", setConfig(func(m map[string]any) { m["hidden_act"] = "swiglu9" })), probeArgs, 1, "grow probe: MODEL/config.json (llama): config and tensors disagree:"},
		{"zero rope_theta", mutate("stories260k", setConfig(func(m map[string]any) { m["rope_theta"] = 0 })), checkSelf, 1, `grow check: source: checkpoint: MODEL/config.json: key "rope_theta": must be positive, got 0`},

		// recorded mappings
		{"mapping not JSON", mutate("stories260k", setMapping("{")), checkFrom("stories260k"), 1, `grow check: claim: MODEL/model.safetensors: metadata "grow.mapping": unexpected end of JSON input`},
		{"mapping with an unknown class", mutate("stories260k", setMapping(`{"operator":"x","class":"CLOSE"}`)), checkFrom("stories260k"), 1, `grow check: claim: MODEL/model.safetensors: metadata "grow.mapping": unknown exactness class "CLOSE" (want BIT-EXACT, EXACT, EXACT-UP-TO-EPS, APPROX or NON-PRESERVING)`},
		{"mapping with a misspelt key", mutate("stories260k", setMapping(`{"operator":"x","clas":"EXACT"}`)), checkFrom("stories260k"), 1, `grow check: claim: MODEL/model.safetensors: metadata "grow.mapping": json: unknown field "clas"`},
		{"mapping with a spiral hidden map", mutate("stories260k", setMapping(`{"class":"EXACT","hidden":{"kind":"spiral","src":64,"dst":64}}`)),
			checkFrom("stories260k"), 1, `grow check: claim: MODEL/model.safetensors: metadata "grow.mapping": hidden map kind "spiral" (want tile or pad)`},
		{"mapping that shrinks", mutate("stories260k", setMapping(`{"class":"EXACT","hidden":{"kind":"tile","src":128,"dst":64}}`)),
			checkFrom("stories260k"), 1, `grow check: claim: MODEL/model.safetensors: metadata "grow.mapping": hidden map from 128 to 64 coordinates (want 0 < src ≤ dst ≤ 16777216)`},
		{"mapping that does not fit the models", mutate("stories260k", setMapping(`{"class":"EXACT","hidden":{"kind":"tile","src":32,"dst":64}}`)),
			checkFrom("stories260k"), 1, "grow check: probe: check: the mapping maps hidden size 32 to 64, but the models have 64 and 64"},
		{"layer map of the wrong length", mutate("stories260k", setMapping(`{"class":"EXACT","hidden":{"kind":"tile","src":64,"dst":64},"layers":[0,1]}`)),
			checkFrom("stories260k"), 1, "grow check: probe: check: the layer map has 2 entries, the result has 6 hidden states (layers + 1)"},
		{"layer map entry -2", mutate("stories260k", setMapping(`{"class":"EXACT","hidden":{"kind":"tile","src":64,"dst":64},"layers":[0,1,2,3,4,-2]}`)),
			checkFrom("stories260k"), 1, `grow check: claim: MODEL/model.safetensors: metadata "grow.mapping": layer map entry 5 is -2 (want a hidden-state index or -1)`},
		{"layer map beyond the source", mutate("stories260k", setMapping(`{"class":"EXACT","hidden":{"kind":"tile","src":64,"dst":64},"layers":[0,1,2,3,4,9]}`)),
			checkFrom("stories260k"), 1, "grow check: probe: check: layer map entry 5 names source hidden state 9, the source has 6"},
		{"storage dtype F8", mutate("stories260k", setMapping(`{"class":"EXACT","storage":"F8"}`)), checkFrom("stories260k"), 1, `grow check: claim: MODEL/model.safetensors: metadata "grow.mapping": storage dtype "F8" (want F64, F32, F16 or BF16)`},
		{"config mapping a number", mutate("stories260k", setConfig(func(m map[string]any) { m["grow_mapping"] = 3 })), checkFrom("stories260k"), 1, `grow check: claim: MODEL/config.json: key "grow_mapping": want a JSON object, got the number 3`},
		{"metadata and config disagree", mutate("stories260k", func(t *testing.T, dir string) {
			setMapping(`{"operator":"convert","class":"BIT-EXACT","hidden":{"kind":"tile","src":64,"dst":64}}`)(t, dir)
			editConfig(t, dir, func(m map[string]any) {
				m["grow_mapping"] = map[string]any{"operator": "convert", "class": "APPROX", "hidden": map[string]any{"kind": "tile", "src": 64, "dst": 64}}
			})
		}), checkFrom("stories260k"), 1, `grow check: claim: the mapping in the metadata of MODEL/model.safetensors ({"operator":"convert","class":"BIT-EXACT","hidden":{"kind":"tile","src":64,"dst":64}}) and the one in MODEL/config.json under "grow_mapping" ({"operator":"convert","class":"APPROX","hidden":{"kind":"tile","src":64,"dst":64}}) disagree`},
		{"convert of a bad mapping", mutate("stories260k", setMapping(`{"class":"CLOSE"}`)), convertArgs, 1, `grow convert: claim: MODEL/model.safetensors: metadata "grow.mapping": unknown exactness class "CLOSE" (want BIT-EXACT, EXACT, EXACT-UP-TO-EPS, APPROX or NON-PRESERVING)`},

		// tokenizer files
		{"tokenizer.json not JSON", tokFile("tokenizer.json", `{"model": `), convertArgs, 1, "grow convert: tokens: MODEL/tokenizer.json: invalid JSON at line 1: unexpected end of JSON input (--no-tokenizer leaves the tokenizer files out)"},
		{"tokenizer.json model a number", tokFile("tokenizer.json", `{"model": 5}`), convertArgs, 1, `grow convert: tokens: MODEL/tokenizer.json: "model" is a number, want an object (--no-tokenizer leaves the tokenizer files out)`},
		{"tokenizer.json a directory", func(t *testing.T) string {
			dir := modelDir(t, "stories260k", map[string][]byte{"tokenizer.json": nil})
			if err := os.Mkdir(filepath.Join(dir, "tokenizer.json"), 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}, convertArgs, 1, "grow convert: tokens: MODEL/tokenizer.json: a directory, not a file (--no-tokenizer leaves the tokenizer files out)"},
		{"tokenizer.json added id a string", tokFile("tokenizer.json", `{"model": {}, "added_tokens": [{"id": "1", "content": "<s>"}]}`), probeArgs, 1, `grow probe: tokens: MODEL/tokenizer.json: "added_tokens"[0]: "id" is "1", want a whole number in [0, 2^31)`},
		{"tokenizer.json vocab id negative", tokFile("tokenizer.json", `{"model": {"type": "BPE", "vocab": {"a": -3}}}`), checkSelf, 1, `grow check: source: tokens: MODEL/tokenizer.json: "model.vocab": token "a" has id -3, want a whole number in [0, 2^31)`},
		{"tokenizer_config.json bos a number", tokFile("tokenizer_config.json", `{"bos_token": 1}`), convertArgs, 1, `grow convert: tokens: MODEL/tokenizer_config.json: "bos_token" is a number, want null, a string or an object with a content string (--no-tokenizer leaves the tokenizer files out)`},
		{"tokenizer_config.json bad decoder key", tokFile("tokenizer_config.json", `{"added_tokens_decoder": {"one": {"content": "<s>"}}}`), expandArgs, 1, `grow expand: tokens: MODEL/tokenizer_config.json: "added_tokens_decoder" key "one" is not a token id`},
		{"special_tokens_map.json an array", tokFile("special_tokens_map.json", `["<s>"]`), inspectArgs, 1, "grow inspect: tokens: MODEL/special_tokens_map.json: want a JSON object, got array"},
		{"tokenizer_config.json a dangling link", func(t *testing.T) string {
			dir := modelDir(t, "stories260k", map[string][]byte{"tokenizer_config.json": nil})
			if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "tokenizer_config.json")); err != nil {
				t.Fatal(err)
			}
			return dir
		}, convertArgs, 1, "grow convert: tokens: MODEL/tokenizer_config.json: a symbolic link to nothing (--no-tokenizer leaves the tokenizer files out)"},

		// non-finite weights
		{"NaN in the embedding", mutate("stories260k", setValue("model.embed_tokens.weight", 64*7+3, nan)), probeArgs, 1, `grow probe: tensor "model.embed_tokens.weight" holds NaN at index [7 3]: NaN and infinite weights are refused`},
		{"+Inf in the final norm", mutate("stories260k", setValue("model.norm.weight", 5, inf)), checkFrom("stories260k"), 1, `grow check: result: probe: tensor "model.norm.weight" holds +Inf at index [5]: NaN and infinite weights are refused`},
		{"-Inf in a q_proj", mutate("stories260k", setValue("model.layers.2.self_attn.q_proj.weight", 64*3+9, -inf)), checkSelf, 1, `grow check: source: probe: tensor "model.layers.2.self_attn.q_proj.weight" holds -Inf at index [3 9]: NaN and infinite weights are refused`},
		{"NaN in a GPT-2 fused c_attn", mutate("gpt2-random-realtok", setValue("transformer.h.0.attn.c_attn.weight", 5, nan)), checkSelf, 1, `grow check: source: probe: tensor "transformer.h.0.attn.c_attn.weightᵀ[4:6]" holds NaN at index [0 5]: NaN and infinite weights are refused`},
		{"NaN in a BERT MLM head", mutate("bert-random-realtok", setValue("cls.predictions.transform.dense.weight", 6, nan)), probeArgs, 1, `grow probe: tensor "cls.predictions.transform.dense.weight" holds NaN at index [1 2]: NaN and infinite weights are refused`},
		{"NaN in the source of an expand", mutate("stories260k", setValue("model.layers.0.mlp.down_proj.weight", 11, nan)), expandArgs, 1, `grow expand: check: source: probe: tensor "model.layers.0.mlp.down_proj.weight" holds NaN at index [0 11]: NaN and infinite weights are refused`},

		// special-token ids
		{"bos_token_id outside the vocabulary", mutate("stories260k", setConfig(func(m map[string]any) { m["bos_token_id"] = 99999 })), checkSelf, 1, "grow check: source: probe: MODEL/config.json: bos_token_id 99999 is outside the vocabulary [0, 512)"},
		{"bos_token_id negative", mutate("stories260k", setConfig(func(m map[string]any) { m["bos_token_id"] = -1 })), checkSelf, 1, "grow check: source: probe: MODEL/config.json: bos_token_id -1 is outside the vocabulary [0, 512)"},
		{"bos_token_id a string", mutate("stories260k", setConfig(func(m map[string]any) { m["bos_token_id"] = "<s>" })), checkSelf, 1, `grow check: source: probe: MODEL/config.json: bos_token_id "<s>" is not a token id`},
		{"bos_token_id a fraction", mutate("gpt2-random-realtok", setConfig(func(m map[string]any) { m["bos_token_id"] = 2.5 })), checkSelf, 1, "grow check: source: probe: MODEL/config.json: bos_token_id 2.5 is not a token id"},
		{"BERT pad_token_id outside the vocabulary", mutate("bert-random-realtok", setConfig(func(m map[string]any) { m["pad_token_id"] = 30522 })), checkSelf, 1, "grow check: source: probe: MODEL/config.json: pad_token_id 30522 is outside the vocabulary [0, 30522)"},
		{"bos_token_id outside the vocabulary, expand", mutate("stories260k", setConfig(func(m map[string]any) { m["bos_token_id"] = 512 })), expandArgs, 1, "grow expand: check: source: probe: MODEL/config.json: bos_token_id 512 is outside the vocabulary [0, 512)"},

		// number flags
		{"--tol nan", st(nil), func(m, _ string) []string { return []string{"check", m, m, "--tol", "nan"} }, 2, "grow check: --tol NaN: want a finite number"},
		{"--noise-snr-db inf", st(nil), func(m, o string) []string {
			return []string{"expand", m, "-o", o, "--method", "hypercloning", "--width-factor", "2", "--noise-snr-db", "inf"}
		}, 2, `grow expand: --noise-snr-db "inf": want a number`},
		{"--split-scale nan", st(nil), func(m, o string) []string {
			return []string{"expand", m, "-o", o, "--method", "lemon", "--hidden", "96", "--split-scale", "nan"}
		}, 2, `grow expand: --split-scale "nan": want a number`},
		{"--pad-std -inf", st(nil), func(m, o string) []string {
			return []string{"expand", m, "-o", o, "--method", "zeropad", "--hidden", "96", "--pad-std", "-inf"}
		}, 2, `grow expand: --pad-std "-inf": want a number`},
	}
}

// writeFile writes dir/name.
func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sharded returns a setup that converts stories260k into shards of about
// 300 kB and applies edit.
func sharded(edit func(t *testing.T, dir string)) func(t *testing.T) string {
	return func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "sharded")
		if code := runWith([]string{"convert", testModel("stories260k"), "-o", dir, "--max-shard-size", "300kB", "--quiet"},
			&bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
			t.Fatalf("convert: exit %d", code)
		}
		edit(t, dir)
		return dir
	}
}

// editIndex rewrites the weight map of dir's index.
func editIndex(t *testing.T, dir string, edit func(wm map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "model.safetensors.index.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var idx map[string]any
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	edit(idx["weight_map"].(map[string]any))
	b, _ = json.Marshal(idx)
	writeFile(t, dir, "model.safetensors.index.json", string(b))
}

// TestInspectReportsInputs: inspect describes the tokenizer, lists the
// special-token ids with their tokens, reports ids outside the vocabulary as
// problems, and with --stats counts NaN and infinities per tensor.
func TestInspectReportsInputs(t *testing.T) {
	out, _, err := growExec(t, "inspect", testModel("stories260k"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"tokenizer        special_tokens_map.json, tokenizer.json, tokenizer.model, tokenizer_config.json (tokenizer.json: BPE, 512 tokens, ids up to 511)",
		`special ids      bos_token_id 1 "<s>", eos_token_id 2 "</s>"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect stories260k: no %q in\n%s", want, out)
		}
	}
	bad := copyDir(t, testModel("stories260k"))
	editConfig(t, bad, func(m map[string]any) { m["bos_token_id"] = 99999; m["pad_token_id"] = []any{1, "x"} })
	rewriteModel(t, bad, func(name string, v []float32) bool {
		switch name {
		case "model.norm.weight":
			v[5] = float32(math.NaN())
		case "model.layers.1.mlp.up_proj.weight":
			v[3*64+7] = float32(math.Inf(-1))
		default:
			return false
		}
		return true
	}, nil)
	out, _, err = growExec(t, "inspect", bad, "--stats")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"problem          config.json: bos_token_id 99999 is outside the vocabulary [0, 512)",
		`problem          config.json: pad_token_id "x" is not a token id`,
		"non-finite       2 values in 2 tensors (first: model.layers.1.mlp.up_proj.weight at index [3 7])",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect --stats: no %q in\n%s", want, out)
		}
	}
	js, _, err := growExec(t, "inspect", bad, "--stats", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range rep.Stats {
		if s.Name == "model.norm.weight" {
			found = true
			if s.NaN != 1 || s.FirstNonFinite != 5 || s.Count != 64 || !(s.RMS > 0) {
				t.Errorf("model.norm.weight stats %+v", s)
			}
		}
	}
	if !found || len(rep.Problems) != 2 {
		t.Errorf("--json: %d stats, problems %v", len(rep.Stats), rep.Problems)
	}
}

// TestConvertNoTokenizer: --no-tokenizer converts a model whose tokenizer is
// invalid, copies no tokenizer file, and says so.
func TestConvertNoTokenizer(t *testing.T) {
	src := modelDir(t, "stories260k", map[string][]byte{"tokenizer.json": []byte(`{"model": 3}`)})
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := growExec(t, "convert", src, "-o", out, "--no-tokenizer")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "note: --no-tokenizer: the tokenizer files were neither checked nor copied "+
		"(special_tokens_map.json, tokenizer.json, tokenizer.model, tokenizer_config.json left out); "+out+" has no tokenizer") ||
		!strings.Contains(stdout, "no tokenizer (--no-tokenizer)") {
		t.Errorf("stdout %q\nstderr %q", stdout, stderr)
	}
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "PROVENANCE.md config.json generation_config.json model.safetensors" {
		t.Errorf("output holds %v", names)
	}
	if code, o, e := checkRun(testModel("stories260k"), out); code != exitOK {
		t.Errorf("check of the conversion: exit %d\n%s%s", code, o, e)
	}
}
