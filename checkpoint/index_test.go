package checkpoint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseIndex(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		want  string // "" for valid
		total int64
	}{
		{name: "valid", json: `{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`, total: 8},
		{name: "no metadata", json: `{"weight_map":{"a":"x.safetensors"}}`, total: -1},
		{name: "extra metadata and keys", json: `{"metadata":{"total_size":1e3,"format":"pt"},"weight_map":{},"other":[1]}`, total: 1000},
		{name: "not JSON", json: `weight_map`, want: "not valid JSON"},
		{name: "array", json: `[]`, want: "not a JSON object"},
		{name: "no weight_map", json: `{"metadata":{}}`, want: `no "weight_map" object`},
		{name: "weight_map not an object", json: `{"weight_map":["a"]}`, want: "weight_map is not an object"},
		{name: "shard not a string", json: `{"weight_map":{"a":1}}`, want: `tensor "a": shard is a number, not a string`},
		{name: "parent directory", json: `{"weight_map":{"a":"../model.safetensors"}}`, want: `tensor "a": shard "../model.safetensors" contains ".."`},
		{name: "dot dot", json: `{"weight_map":{"a":".."}}`, want: "is not a file name"},
		{name: "absolute path", json: `{"weight_map":{"a":"/etc/model.safetensors"}}`, want: "is an absolute path"},
		{name: "windows absolute path", json: `{"weight_map":{"a":"C:\\model.safetensors"}}`, want: `tensor "a": shard`},
		{name: "separator", json: `{"weight_map":{"a":"sub/model.safetensors"}}`, want: "contains a path separator"},
		{name: "backslash separator", json: `{"weight_map":{"a":"sub\\model.safetensors"}}`, want: "contains a path separator"},
		{name: "empty shard name", json: `{"weight_map":{"a":""}}`, want: `shard "" is empty`},
		{name: "duplicate tensor", json: `{"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}`, want: `tensor "a" is listed twice`},
		{name: "duplicate weight_map", json: `{"weight_map":{},"weight_map":{}}`, want: `duplicate key "weight_map"`},
		{name: "negative total_size", json: `{"metadata":{"total_size":-1},"weight_map":{}}`, want: "metadata.total_size: -1 is negative"},
		{name: "fractional total_size", json: `{"metadata":{"total_size":1.5},"weight_map":{}}`, want: "metadata.total_size: 1.5 is not"},
		{name: "string total_size", json: `{"metadata":{"total_size":"8"},"weight_map":{}}`, want: "metadata.total_size: 8 is not a number"},
		{name: "metadata not an object", json: `{"metadata":3,"weight_map":{}}`, want: "metadata is a number"},
		{name: "trailing data", json: `{"weight_map":{}} x`, want: "after the JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idx, err := ParseIndex([]byte(tc.json), "dir/model.safetensors.index.json")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if idx.TotalSize != tc.total {
					t.Errorf("TotalSize = %d, want %d", idx.TotalSize, tc.total)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want error %q", tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, "dir/model.safetensors.index.json: ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name the file and %q", msg, tc.want)
			}
		})
	}
}

// shardedDir writes a directory with config.json (from stories260k), two shards
// holding tensors a, b (shard 1) and c (shard 2), and the given index text.
func shardedDir(t *testing.T, index string) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(stories260k, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"config.json":                      cfg,
		"model-00001-of-00002.safetensors": st(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"model-00002-of-00002.safetensors": st(`{"c":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 2)),
		"tokenizer.json":                   []byte("{}"),
	}
	if index != "" {
		files[IndexName] = []byte(index)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	s1 = "model-00001-of-00002.safetensors"
	s2 = "model-00002-of-00002.safetensors"
)

func TestOpenSharded(t *testing.T) {
	dir := shardedDir(t, `{"metadata":{"total_size":10},"weight_map":{"a":"`+s1+`","b":"`+s1+`","c":"`+s2+`"}}`)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Index == nil || len(c.Files) != 2 || len(c.Tensors) != 3 {
		t.Fatalf("index %v, %d files, %d tensors", c.Index, len(c.Files), len(c.Tensors))
	}
	if tn, ok := c.Tensor("c"); !ok || filepath.Base(tn.File) != s2 {
		t.Errorf("tensor c: %v %v", tn, ok)
	}
	if !slices.Equal(c.SideFiles, []string{"tokenizer.json"}) {
		t.Errorf("SideFiles = %v", c.SideFiles)
	}
	if c.Config == nil || c.Config.Hidden != 64 {
		t.Errorf("config not read: %+v", c.Config)
	}
}

// TestOpenMalformedDirs: broken directories give errors naming the file and problem.
func TestOpenMalformedDirs(t *testing.T) {
	good := `"a":"` + s1 + `","b":"` + s1 + `","c":"` + s2 + `"`
	tests := []struct {
		name  string
		index string
		edit  func(dir string) error
		file  string // the file the error must name
		want  string
	}{
		{name: "missing shard", index: `{"weight_map":{` + good + `,"d":"model-00003-of-00003.safetensors"}}`, file: IndexName, want: `shard "model-00003-of-00003.safetensors" does not exist`},
		{name: "tensor in the wrong shard", index: `{"weight_map":{"a":"` + s2 + `","b":"` + s1 + `","c":"` + s2 + `"}}`, file: s1, want: `tensor "a" is in this shard, but `},
		{name: "tensor not listed", index: `{"weight_map":{"a":"` + s1 + `","c":"` + s2 + `"}}`, file: s1, want: `tensor "b" is not listed in`},
		{name: "listed tensor absent", index: `{"weight_map":{` + good + `,"z":"` + s2 + `"}}`, file: IndexName, want: `tensor "z" is not in the shard it names`},
		{name: "total_size mismatch", index: `{"metadata":{"total_size":11},"weight_map":{` + good + `}}`, file: IndexName, want: "metadata.total_size is 11, but the shards' tensors hold 10 bytes"},
		{name: "index with ../", index: `{"weight_map":{"a":"../` + s1 + `"}}`, file: IndexName, want: `contains ".."`},
		{name: "index with an absolute path", index: `{"weight_map":{"a":"/tmp/` + s1 + `"}}`, file: IndexName, want: "absolute path"},
		{name: "index with a separator", index: `{"weight_map":{"a":"x/` + s1 + `"}}`, file: IndexName, want: "path separator"},
		{name: "malformed shard", index: `{"weight_map":{` + good + `}}`, edit: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, s2), []byte("short"), 0o644)
		}, file: s2, want: "too short"},
		{name: "both single file and index", index: `{"weight_map":{` + good + `}}`, edit: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, SingleName), st(`{}`, nil), 0o644)
		}, file: "", want: "has both model.safetensors and model.safetensors.index.json"},
		{name: "no weights", edit: func(dir string) error { return nil }, file: "", want: "no model.safetensors or model.safetensors.index.json"},
		{name: "no config", index: `{"weight_map":{` + good + `}}`, edit: func(dir string) error {
			return os.Remove(filepath.Join(dir, "config.json"))
		}, file: "", want: "no config.json"},
		{name: "same tensor in two shards", index: `{"weight_map":{` + good + `}}`, edit: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, s2), st(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"c":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}`, make([]byte, 6)), 0o644)
		}, file: s2, want: `tensor "a" is in this shard, but`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := shardedDir(t, tc.index)
			if tc.edit != nil {
				if err := tc.edit(dir); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Open(dir)
			if err == nil {
				c.Close()
				t.Fatalf("opened, want error %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, filepath.Join(dir, tc.file)) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q\n does not name %s and %q", msg, filepath.Join(dir, tc.file), tc.want)
			}
		})
	}
}

func TestOpenBareFile(t *testing.T) {
	c, err := Open(filepath.Join(tattletale, "vandermonde.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Dir != "" || c.Config != nil || len(c.Tensors) != 3 {
		t.Errorf("bare file: dir %q config %v tensors %d", c.Dir, c.Config, len(c.Tensors))
	}
	if _, err := Open(filepath.Join(tattletale, "missing.safetensors")); err == nil {
		t.Error("missing file opened")
	}
}

// TestSideFiles: weights of other formats and the index are not side files;
// symbolic links to regular files are.
func TestSideFiles(t *testing.T) {
	dir := shardedDir(t, `{"weight_map":{"a":"`+s1+`","b":"`+s1+`","c":"`+s2+`"}}`)
	for _, n := range []string{"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack", "generation_config.json", "vocab.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "vocab.txt"), filepath.Join(dir, "merges.txt")); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := []string{"generation_config.json", "merges.txt", "tokenizer.json", "vocab.txt"}
	if !slices.Equal(c.SideFiles, want) {
		t.Errorf("SideFiles = %v, want %v", c.SideFiles, want)
	}
}

// FuzzParseIndex: no input panics; an accepted index names only plain shard files.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":10},"weight_map":{"a":"` + s1 + `","c":"` + s2 + `"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../x"}}`))
	f.Add([]byte(`{"metadata":{"total_size":1e3},"weight_map":{"a":"x","a":"y"}}`))
	for _, p := range []string{hfSamples, tattletale, stories260k} {
		if m, _ := filepath.Glob(filepath.Join(p, "*.json")); len(m) > 0 {
			for _, q := range m {
				if data, err := os.ReadFile(q); err == nil {
					f.Add(data)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(data, "fuzz.index.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "checkpoint: fuzz.index.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if idx.TotalSize < -1 || idx.WeightMap == nil {
			t.Fatalf("bad index %+v", idx)
		}
		for tensor, shard := range idx.WeightMap {
			if shard == "" || filepath.Base(shard) != shard || strings.ContainsAny(shard, `/\`) || strings.Contains(shard, "..") || filepath.IsAbs(shard) {
				t.Fatalf("tensor %q: accepted shard name %q", tensor, shard)
			}
		}
	})
}
