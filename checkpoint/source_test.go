package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestSourceSHA256(t *testing.T) {
	sum := func(path string) string {
		t.Helper()
		c, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := c.SourceSHA256()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 64 {
			t.Fatalf("sum %q", s)
		}
		return s
	}
	a := sum(stories260k)

	// The documented recipe, computed here from the files' bytes.
	h := sha256.New()
	part := func(name string, data []byte) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(n[:])
		h.Write(data)
	}
	st, err := os.ReadFile(filepath.Join(stories260k, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	part("model.safetensors", st[:8+binary.LittleEndian.Uint64(st[:8])])
	cfgBytes, err := os.ReadFile(filepath.Join(stories260k, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	part("config.json", cfgBytes)
	if want := hex.EncodeToString(h.Sum(nil)); a != want {
		t.Errorf("sum %s, the documented recipe gives %s", a, want)
	}

	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(stories260k, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b := sum(dir); b != a {
		t.Errorf("byte copy: %s, source %s", b, a)
	}
	// A config edit changes it; a tensor-data edit alone does not (documented).
	cfg := filepath.Join(dir, "config.json")
	raw, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, bytes.Replace(raw, []byte(`"use_cache": true`), []byte(`"use_cache": false`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if b := sum(dir); b == a {
		t.Errorf("config edit did not change the sum")
	}
	if err := os.WriteFile(cfg, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	stPath := filepath.Join(dir, "model.safetensors")
	data, _ := os.ReadFile(stPath)
	data[len(data)-1] ^= 1
	if err := os.WriteFile(stPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if b := sum(dir); b != a {
		t.Errorf("data edit changed the header sum")
	}
	// Sharded sources include the index.
	c := openStories(t)
	sh := filepath.Join(t.TempDir(), "sh")
	if err := WriteDir(sh, copyEntries(c), WriteOptions{MaxShardSize: 200_000, Config: c.Config}); err != nil {
		t.Fatal(err)
	}
	if n, _ := filepath.Glob(filepath.Join(sh, "*.safetensors")); len(n) < 2 {
		t.Fatalf("%d shards written, want several", len(n))
	}
	if b := sum(sh); b == a {
		t.Errorf("sharded copy has the single file's sum")
	}
}
