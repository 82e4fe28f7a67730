package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
	"github.com/grow-ml/grow/graph"
	"github.com/grow-ml/grow/probe"
)

// openModel opens a model directory (or bare .safetensors file) and, when it has
// a config.json, builds its weight graph. g is nil for a bare file; the caller
// closes ck.
func openModel(path string) (ck *checkpoint.Checkpoint, g *graph.Graph, err error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: no such model directory or file", path)
		}
		return nil, nil, err
	}
	ck, err = checkpoint.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if ck.Config == nil {
		return ck, nil, nil
	}
	g, err = graph.FromCheckpoint(ck)
	if err != nil {
		ck.Close()
		return nil, nil, err
	}
	return ck, g, nil
}

// openGraph opens a model directory as a weight graph; a bare .safetensors file
// (no config.json) is an error. The caller closes ck.
func openGraph(path string) (*checkpoint.Checkpoint, *graph.Graph, error) {
	ck, g, err := openModel(path)
	if err != nil {
		return nil, nil, err
	}
	if g == nil {
		ck.Close()
		return nil, nil, fmt.Errorf("%s: a bare safetensors file has no config.json; give the model directory", path)
	}
	return ck, g, nil
}

// sourceSHA256 identifies a source checkpoint cheaply, without reading tensor
// data: the SHA-256 over a sequence of parts, each written as its name (UTF-8),
// a 0 byte, its length as a little-endian uint64, then its bytes. The parts are,
// in this order:
//
//   - every safetensors file of the checkpoint, sorted by file name, named by
//     its base name, with the bytes of its 8-byte header length and its JSON
//     header (padding included): tensor names, dtypes, shapes, offsets and
//     __metadata__, but not the tensor data;
//   - model.safetensors.index.json, when the model is sharded, whole;
//   - config.json, when there is one, whole.
//
// Two sources with the same value have the same tensor layout and config; an
// in-place edit of tensor values alone does not change it.
func sourceSHA256(ck *checkpoint.Checkpoint) (string, error) {
	h := sha256.New()
	part := func(name string, data []byte) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(n[:])
		h.Write(data)
	}
	files := make([]*checkpoint.File, len(ck.Files))
	copy(files, ck.Files)
	sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i].Path) < filepath.Base(files[j].Path) })
	for _, f := range files {
		head, err := readSafetensorsHeader(f.Path)
		if err != nil {
			return "", err
		}
		part(filepath.Base(f.Path), head)
	}
	if ck.Dir != "" {
		for _, name := range []string{"model.safetensors.index.json", "config.json"} {
			data, err := os.ReadFile(filepath.Join(ck.Dir, name))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return "", err
			}
			part(name, data)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readSafetensorsHeader returns a safetensors file's first 8 + N bytes (the
// length prefix and the JSON header). The file was validated by Open.
func readSafetensorsHeader(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var n [8]byte
	if _, err := io.ReadFull(f, n[:]); err != nil {
		return nil, fmt.Errorf("%s: reading the header length: %w", path, err)
	}
	size := binary.LittleEndian.Uint64(n[:])
	if size > 100_000_000 {
		return nil, fmt.Errorf("%s: header of %d bytes is larger than 100 MB", path, size)
	}
	buf := make([]byte, 8+size)
	copy(buf, n[:])
	if _, err := io.ReadFull(f, buf[8:]); err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", path, err)
	}
	return buf, nil
}

// parseOutputDType parses a --dtype flag: "" keeps the source's dtypes.
func parseOutputDType(s string) (checkpoint.DType, error) {
	if s == "" || s == "keep" {
		return "", nil
	}
	d, err := checkpoint.ParseDType(s)
	if err != nil {
		return "", fmt.Errorf("--dtype %q: want f32, f16, bf16 or f64", s)
	}
	if !d.IsFloat() {
		return "", fmt.Errorf("--dtype %q: want a float dtype (f32, f16, bf16 or f64)", s)
	}
	return d, nil
}

// parsePrecision parses a --precision flag: f32 (float32) or f64 (float64).
func parsePrecision(s string) (probe.Precision, error) {
	switch strings.ToLower(s) {
	case "f64", "float64":
		return probe.F64, nil
	case "f32", "float32":
		return probe.F32, nil
	}
	return "", fmt.Errorf("--precision %q: want f32 or f64", s)
}

// parseIDs parses token ids separated by commas and/or white space: "1,403, 407".
func parseIDs(s string) ([]int, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	ids := make([]int, 0, len(fields))
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a token id", f)
		}
		ids = append(ids, n)
	}
	return ids, nil
}

// printJSON writes v as indented JSON (the --json output of inspect and check).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
