package checkpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// IndexName is the file name of a sharded checkpoint's index.
const IndexName = "model.safetensors.index.json"

// ParseIndex parses a model.safetensors.index.json; name is used in errors.
//
// The index must be a JSON object with a "weight_map" object mapping every tensor
// name (no duplicates) to a shard file name. A shard name must be a plain file name
// in the index's directory: not empty, not "." or "..", no path separator, not
// absolute. "metadata" is optional; metadata.total_size, when present, must be a
// non-negative integer (TotalSize is -1 when it is absent).
func ParseIndex(data []byte, name string) (*Index, error) {
	fail := func(format string, a ...any) (*Index, error) { return nil, fileError(name, format, a...) }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fail("not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fail("not a JSON object")
	}
	idx := &Index{TotalSize: -1}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("not valid JSON: %v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return fail("duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "weight_map":
			wm, err := parseWeightMap(dec)
			if err != nil {
				return fail("%v", err)
			}
			idx.WeightMap = wm
		case "metadata":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fail("not valid JSON (metadata): %v", err)
			}
			if err := json.Unmarshal(raw, &idx.Metadata); err != nil {
				return fail("metadata is %s, not an object", jsonKind(raw))
			}
			var withNumbers map[string]any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			_ = d.Decode(&withNumbers) // cannot fail: raw decoded above
			if v, ok := withNumbers["total_size"]; ok {
				n, err := parseTotalSize(v)
				if err != nil {
					return fail("metadata.total_size: %v", err)
				}
				idx.TotalSize = n
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail("not valid JSON (value of %q): %v", key, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("data after the JSON object")
	}
	if idx.WeightMap == nil {
		return fail("no \"weight_map\" object")
	}
	return idx, nil
}

// parseWeightMap reads the weight_map object from dec, refusing duplicate tensor
// names, non-string values and shard names that are not plain file names.
func parseWeightMap(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON (weight_map): %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("weight_map is not an object")
	}
	wm := make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON (weight_map): %v", err)
		}
		tensor, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("not valid JSON (weight_map[%q]): %v", tensor, err)
		}
		if _, dup := wm[tensor]; dup {
			return nil, fmt.Errorf("weight_map: tensor %q is listed twice", tensor)
		}
		var shard string
		if err := json.Unmarshal(raw, &shard); err != nil {
			return nil, fmt.Errorf("weight_map: tensor %q: shard is %s, not a string", tensor, jsonKind(raw))
		}
		if err := checkShardName(shard); err != nil {
			return nil, fmt.Errorf("weight_map: tensor %q: shard %q %v", tensor, shard, err)
		}
		wm[tensor] = shard
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON (weight_map): %v", err)
	}
	return wm, nil
}

// checkShardName returns an error unless s is a plain file name.
func checkShardName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case s == "." || s == "..":
		return fmt.Errorf("is not a file name")
	case strings.Contains(s, ".."):
		return fmt.Errorf("contains \"..\" (the shard must be in the index's directory)")
	case strings.HasPrefix(s, "/") || strings.HasPrefix(s, `\`) || filepath.IsAbs(s) || filepath.VolumeName(s) != "":
		return fmt.Errorf("is an absolute path (the shard must be a file name in the index's directory)")
	case strings.ContainsAny(s, `/\`):
		return fmt.Errorf("contains a path separator (the shard must be a file name in the index's directory)")
	case strings.ContainsAny(s, "\x00:"):
		return fmt.Errorf("contains a NUL or ':' character")
	}
	return nil
}

// parseTotalSize accepts a non-negative integer, also written as an integral float.
func parseTotalSize(v any) (int64, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	if n, err := strconv.ParseInt(num.String(), 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%d is negative", n)
		}
		return n, nil
	}
	f, err := num.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) || f >= math.MaxInt64 {
		return 0, fmt.Errorf("%s is not a non-negative integer", num)
	}
	return int64(f), nil
}

// Shards returns the distinct shard file names of the index, sorted.
func (idx *Index) Shards() []string {
	set := make(map[string]bool)
	for _, s := range idx.WeightMap {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Check verifies the index against the opened shard files (their base names are
// matched to the weight map): every tensor of a shard is listed in the index under
// that shard, every listed tensor is in the shard the index names, no tensor is in
// two shards, and metadata.total_size (when present) equals the sum of the
// tensors' byte lengths. name is used in errors.
func (idx *Index) Check(files []*File, name string) error {
	where := make(map[string]string)
	var total int64
	for _, f := range files {
		base := filepath.Base(f.Path)
		for _, t := range f.Tensors {
			want, ok := idx.WeightMap[t.Name]
			if !ok {
				return fileError(f.Path, "tensor %q is not listed in %s", t.Name, name)
			}
			if want != base {
				return fileError(f.Path, "tensor %q is in this shard, but %s puts it in %q", t.Name, name, want)
			}
			if other, dup := where[t.Name]; dup {
				return fileError(f.Path, "tensor %q is also in %s", t.Name, other)
			}
			where[t.Name] = f.Path
			total += t.size
		}
	}
	names := make([]string, 0, len(idx.WeightMap))
	for n := range idx.WeightMap {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := where[n]; !ok {
			return fileError(name, "tensor %q is not in the shard it names, %q", n, idx.WeightMap[n])
		}
	}
	if idx.TotalSize >= 0 && idx.TotalSize != total {
		return fileError(name, "metadata.total_size is %d, but the shards' tensors hold %d bytes", idx.TotalSize, total)
	}
	return nil
}
