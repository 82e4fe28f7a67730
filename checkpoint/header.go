package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize is the largest safetensors JSON header accepted, in bytes (the
// limit of the official implementation).
const MaxHeaderSize = 100_000_000

// fileError formats an error that names the file.
func fileError(name, format string, a ...any) error {
	return fmt.Errorf("checkpoint: %s: %s", name, fmt.Sprintf(format, a...))
}

// readFullAt reads len(p) bytes at off; a short read is an error.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// ReadHeader parses and validates the safetensors header of the file of the given
// size read through r; name is used in error messages.
//
// Only the 8-byte length and the JSON header are read. The rules are those of the
// official implementation: a header of at most MaxHeaderSize bytes inside the file,
// valid UTF-8 holding one JSON object (whitespace around it allowed); an optional
// "__metadata__" object of strings; every other key a tensor record with exactly
// "dtype" (a known dtype), "shape" (non-negative integers) and "data_offsets"
// (two non-negative integers); no duplicate names; data offsets that, sorted,
// cover the data section contiguously from 0 to the end of the file without gaps
// or overlaps; each tensor's byte length equal to its element count times its
// dtype size, computed without overflow.
func ReadHeader(r io.ReaderAt, size int64, name string) (*File, error) {
	if size < 8 {
		return nil, fileError(name, "file is %d bytes, too short for the 8-byte header length", size)
	}
	var lb [8]byte
	if err := readFullAt(r, lb[:], 0); err != nil {
		return nil, fileError(name, "reading the header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n > MaxHeaderSize {
		return nil, fileError(name, "header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, fileError(name, "header length %d runs past the end of the file (%d bytes)", n, size)
	}
	if n == 0 {
		return nil, fileError(name, "header is empty (length 0); it must hold a JSON object")
	}
	buf := make([]byte, n)
	if err := readFullAt(r, buf, 8); err != nil {
		return nil, fileError(name, "reading the %d-byte header: %v", n, err)
	}
	meta, recs, err := parseHeaderJSON(buf)
	if err != nil {
		return nil, fileError(name, "%v", err)
	}
	end, err := validateRecords(recs)
	if err != nil {
		return nil, fileError(name, "%v", err)
	}
	dataStart := 8 + n
	total, carry := bits.Add64(dataStart, end, 0)
	switch {
	case carry != 0 || total > uint64(size):
		return nil, fileError(name, "file is truncated: the tensor data needs %d bytes after the %d-byte header, the file has %d bytes in all", end, n, size)
	case total < uint64(size):
		return nil, fileError(name, "%d bytes after the end of the tensor data are not covered by any tensor (data ends at byte %d, file has %d bytes)", uint64(size)-total, total, size)
	}
	f := &File{Path: name, Metadata: meta, Tensors: make([]*Tensor, len(recs)), r: r, headerLen: int64(dataStart)}
	for i, rec := range recs {
		f.Tensors[i] = &Tensor{
			Name:   rec.name,
			DType:  rec.dtype,
			Shape:  rec.shape,
			File:   name,
			r:      r,
			offset: int64(dataStart + rec.begin),
			size:   int64(rec.end - rec.begin),
		}
	}
	return f, nil
}

// record is one tensor entry of a header before validation.
type record struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

// parseHeaderJSON decodes the header with a streaming decoder so that duplicate
// keys, which encoding/json would silently merge, are seen.
func parseHeaderJSON(buf []byte) (map[string]string, []record, error) {
	if !utf8.Valid(buf) {
		i := 0
		for i < len(buf) {
			r, sz := utf8.DecodeRune(buf[i:])
			if r == utf8.RuneError && sz <= 1 {
				break
			}
			i += sz
		}
		return nil, nil, fmt.Errorf("header is not valid UTF-8 (bad byte 0x%02x at header byte %d)", buf[i], i)
	}
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("header is not a JSON object")
	}
	var meta map[string]string
	var recs []record
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("header is not valid JSON (value of %q): %v", key, err)
		}
		if seen[key] {
			if key == "__metadata__" {
				return nil, nil, fmt.Errorf("duplicate \"__metadata__\" key in the header")
			}
			return nil, nil, fmt.Errorf("tensor %q: duplicate name in the header", key)
		}
		seen[key] = true
		if key == "__metadata__" {
			if meta, err = parseMetadata(raw); err != nil {
				return nil, nil, err
			}
			continue
		}
		rec, err := parseRecord(key, raw)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", key, err)
		}
		recs = append(recs, rec)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("header has data after its JSON object")
	}
	return meta, recs, nil
}

// parseMetadata decodes "__metadata__": null or an object whose values are strings.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("\"__metadata__\" is not an object of strings: %s", jsonKind(raw))
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("\"__metadata__\" key %q is %s, not a string", k, jsonValueKind(v))
		}
		out[k] = s
	}
	return out, nil
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "empty"
	}
	switch t[0] {
	case '{':
		return "an object with a non-string value"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonValueKind names the JSON kind of a decoded value.
func jsonValueKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// parseRecord decodes one tensor entry; it must have exactly the keys dtype, shape
// and data_offsets.
func parseRecord(name string, raw json.RawMessage) (record, error) {
	rec := record{name: name}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return rec, fmt.Errorf("entry is %s, not an object with dtype, shape and data_offsets", jsonKind(raw))
	}
	for k := range m {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			return rec, fmt.Errorf("unexpected key %q in the entry (want dtype, shape and data_offsets)", k)
		}
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if _, ok := m[k]; !ok {
			return rec, fmt.Errorf("entry has no %q", k)
		}
	}
	var dt string
	if err := json.Unmarshal(m["dtype"], &dt); err != nil {
		return rec, fmt.Errorf("dtype is %s, not a string", jsonKind(m["dtype"]))
	}
	rec.dtype = DType(dt)
	if rec.dtype.Size() == 0 {
		return rec, fmt.Errorf("unknown dtype %q", dt)
	}
	shape, err := parseNaturals(m["shape"], math.MaxInt64)
	if err != nil {
		return rec, fmt.Errorf("shape: %v", err)
	}
	rec.shape = make([]int, len(shape))
	for i, d := range shape {
		rec.shape[i] = int(d)
	}
	offs, err := parseNaturals(m["data_offsets"], math.MaxUint64)
	if err != nil {
		return rec, fmt.Errorf("data_offsets: %v", err)
	}
	if len(offs) != 2 {
		return rec, fmt.Errorf("data_offsets has %d numbers, want 2", len(offs))
	}
	rec.begin, rec.end = offs[0], offs[1]
	return rec, nil
}

// parseNaturals decodes a JSON array of non-negative integers no larger than max.
func parseNaturals(raw json.RawMessage, max uint64) ([]uint64, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, fmt.Errorf("%s is not an array of non-negative integers", jsonKind(raw))
	}
	out := make([]uint64, len(items))
	for i, it := range items {
		v, err := strconv.ParseUint(string(bytes.TrimSpace(it)), 10, 64)
		if err != nil || v > max {
			return nil, fmt.Errorf("element %d (%s) is not a non-negative integer up to %d", i, it, max)
		}
		out[i] = v
	}
	return out, nil
}

// validateRecords sorts the records by data offsets and checks that they cover
// [0, end) contiguously with the right byte lengths. It returns end.
func validateRecords(recs []record) (uint64, error) {
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.name < b.name
	})
	var prev uint64
	for i, rec := range recs {
		switch {
		case rec.end < rec.begin:
			return 0, fmt.Errorf("tensor %q: data offsets [%d, %d) end before they begin", rec.name, rec.begin, rec.end)
		case rec.begin < prev:
			return 0, fmt.Errorf("tensor %q: data offsets [%d, %d) overlap the previous tensor %q, which ends at %d", rec.name, rec.begin, rec.end, recs[i-1].name, prev)
		case rec.begin > prev && i == 0:
			return 0, fmt.Errorf("tensor %q: data offsets [%d, %d) leave a gap: the data section starts at 0", rec.name, rec.begin, rec.end)
		case rec.begin > prev:
			return 0, fmt.Errorf("tensor %q: data offsets [%d, %d) leave a gap of %d bytes after the previous tensor %q, which ends at %d", rec.name, rec.begin, rec.end, rec.begin-prev, recs[i-1].name, prev)
		}
		want, ok := byteLength(rec.dtype, rec.shape)
		if !ok {
			return 0, fmt.Errorf("tensor %q: shape %v of dtype %s overflows the element or byte count", rec.name, rec.shape, rec.dtype)
		}
		if got := rec.end - rec.begin; got != want {
			return 0, fmt.Errorf("tensor %q: data offsets [%d, %d) hold %d bytes, but shape %v of dtype %s needs %d", rec.name, rec.begin, rec.end, got, rec.shape, rec.dtype, want)
		}
		prev = rec.end
	}
	return prev, nil
}

// byteLength returns Π shape × dtype size, checking every step for overflow
// (in shape order, like the official implementation).
func byteLength(dt DType, shape []int) (uint64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	hi, lo := bits.Mul64(n, uint64(dt.Size()))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return lo, true
}

// OpenFile opens and validates one safetensors file. The file is opened read-only
// and only its header is read; tensor data is read when asked for.
func OpenFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, fileError(path, "not a regular file")
	}
	f, err := ReadHeader(fh, st.Size(), path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Close closes the file.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}
