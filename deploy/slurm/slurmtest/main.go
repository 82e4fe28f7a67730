// Command slurmtest is a helper of deploy/slurm/test.sh, the test of the sliced check on a Slurm
// job array. It has two subcommands, so that the test needs neither Python nor jq:
//
//	slurmtest patch FILE TENSOR [INDEX [DELTA]]
//
// adds DELTA (default 1) to element INDEX (default 0) of tensor TENSOR of the safetensors file FILE,
// in place: the header (8-byte little-endian length, then JSON with each tensor's dtype, shape and
// data_offsets relative to the end of the header) gives the element's byte offset. F64, F32, F16 and
// BF16 tensors are handled. It prints the tensor, the element's offset in the file, and the old and
// new values.
//
//	slurmtest jsondiff [-rel R] [-scale KEY] [-ignore K1,K2] A.json B.json
//
// compares two JSON documents: strings, booleans and nulls must be equal, numbers must be within
// tol = R·max(1, |A.KEY|) of each other (R = 0, the default, demands equality), objects must have the
// same keys (except those named by -ignore, at any depth) and arrays the same length. It prints every
// difference with its path and exits 1 when there is one.
//
//	slurmtest jsonget FILE KEY
//
// prints the top-level value KEY of the JSON document FILE: a string or number as it is, an array
// one element a line; it exits 1 when there is no such key.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "patch":
		err = patchCmd(os.Args[2:], os.Stdout)
	case "jsondiff":
		var diffs []string
		diffs, err = jsondiffCmd(os.Args[2:])
		if err == nil && len(diffs) > 0 {
			for _, d := range diffs {
				fmt.Println(d)
			}
			fmt.Fprintf(os.Stderr, "slurmtest jsondiff: %d difference(s)\n", len(diffs))
			os.Exit(1)
		}
	case "jsonget":
		err = jsongetCmd(os.Args[2:], os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "slurmtest:", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: slurmtest patch FILE TENSOR [INDEX [DELTA]]\n       slurmtest jsondiff [-rel R] [-scale KEY] [-ignore K1,K2] A.json B.json\n       slurmtest jsonget FILE KEY")
	os.Exit(2)
}

// tensorInfo is one entry of a safetensors header.
type tensorInfo struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// elementOffset returns the byte offset in the file of element index of tensor name, and its size.
func elementOffset(f io.ReaderAt, name string, index int64) (off int64, info tensorInfo, err error) {
	var lenBuf [8]byte
	if _, err = f.ReadAt(lenBuf[:], 0); err != nil {
		return 0, info, fmt.Errorf("reading the header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n == 0 || n > 100<<20 {
		return 0, info, fmt.Errorf("header length %d is not plausible", n)
	}
	hdr := make([]byte, n)
	if _, err = f.ReadAt(hdr, 8); err != nil {
		return 0, info, fmt.Errorf("reading the header: %w", err)
	}
	var entries map[string]json.RawMessage
	if err = json.Unmarshal(hdr, &entries); err != nil {
		return 0, info, fmt.Errorf("parsing the header: %w", err)
	}
	raw, ok := entries[name]
	if !ok || name == "__metadata__" {
		names := make([]string, 0, len(entries))
		for k := range entries {
			if k != "__metadata__" {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		return 0, info, fmt.Errorf("no tensor %q (it has %s)", name, strings.Join(names, ", "))
	}
	if err = json.Unmarshal(raw, &info); err != nil {
		return 0, info, fmt.Errorf("tensor %q: %w", name, err)
	}
	size, err := dtypeSize(info.DType)
	if err != nil {
		return 0, info, fmt.Errorf("tensor %q: %w", name, err)
	}
	count := int64(1)
	for _, d := range info.Shape {
		count *= d
	}
	if len(info.DataOffsets) != 2 || info.DataOffsets[1]-info.DataOffsets[0] != count*size {
		return 0, info, fmt.Errorf("tensor %q: data_offsets %v do not hold %d elements of %s", name, info.DataOffsets, count, info.DType)
	}
	if index < 0 || index >= count {
		return 0, info, fmt.Errorf("tensor %q has %d elements; no element %d", name, count, index)
	}
	return 8 + int64(n) + info.DataOffsets[0] + index*size, info, nil
}

func dtypeSize(dtype string) (int64, error) {
	switch dtype {
	case "F64":
		return 8, nil
	case "F32":
		return 4, nil
	case "F16", "BF16":
		return 2, nil
	}
	return 0, fmt.Errorf("dtype %s is not handled (F64, F32, F16, BF16)", dtype)
}

func decode(dtype string, b []byte) float64 {
	switch dtype {
	case "F64":
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case "F32":
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case "BF16":
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16))
	default: // F16
		return f16ToFloat(binary.LittleEndian.Uint16(b))
	}
}

func encode(dtype string, v float64, b []byte) {
	switch dtype {
	case "F64":
		binary.LittleEndian.PutUint64(b, math.Float64bits(v))
	case "F32":
		binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
	case "BF16":
		// Round to nearest even on the dropped 16 bits.
		u := math.Float32bits(float32(v))
		u += 0x7fff + (u>>16)&1
		binary.LittleEndian.PutUint16(b, uint16(u>>16))
	default: // F16
		binary.LittleEndian.PutUint16(b, floatToF16(v))
	}
}

func f16ToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * frac * math.Pow(2, -24)
	case 0x1f:
		if frac == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * (1 + frac/1024) * math.Pow(2, float64(exp-15))
}

// floatToF16 rounds v to the nearest half-precision value (ties away from zero is close enough for a
// test edit; the value read back is printed).
func floatToF16(v float64) uint16 {
	var sign uint16
	if v < 0 {
		sign, v = 0x8000, -v
	}
	if v >= 65520 {
		return sign | 0x7c00
	}
	if v < math.Pow(2, -14) {
		return sign | uint16(math.Round(v/math.Pow(2, -24)))
	}
	exp := math.Floor(math.Log2(v))
	frac := math.Round((v/math.Pow(2, exp) - 1) * 1024)
	if frac == 1024 {
		frac, exp = 0, exp+1
	}
	return sign | uint16(exp+15)<<10 | uint16(frac)
}

func patchCmd(args []string, out io.Writer) error {
	if len(args) < 2 || len(args) > 4 {
		return errors.New("usage: slurmtest patch FILE TENSOR [INDEX [DELTA]]")
	}
	file, name := args[0], args[1]
	index, delta := int64(0), 1.0
	var err error
	if len(args) > 2 {
		if index, err = strconv.ParseInt(args[2], 10, 64); err != nil {
			return fmt.Errorf("INDEX: %w", err)
		}
	}
	if len(args) > 3 {
		if delta, err = strconv.ParseFloat(args[3], 64); err != nil {
			return fmt.Errorf("DELTA: %w", err)
		}
	}
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	off, info, err := elementOffset(f, name, index)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	size, _ := dtypeSize(info.DType)
	b := make([]byte, size)
	if _, err = f.ReadAt(b, off); err != nil {
		return err
	}
	old := decode(info.DType, b)
	encode(info.DType, old+delta, b)
	if _, err = f.WriteAt(b, off); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s[%d] (%s) at byte %d: %v -> %v\n", file, name, index, info.DType, off, old, decode(info.DType, b))
	return nil
}

func jsondiffCmd(args []string) ([]string, error) {
	fs := flag.NewFlagSet("jsondiff", flag.ContinueOnError)
	rel := fs.Float64("rel", 0, "numbers may differ by rel·max(1, |A.KEY|)")
	scale := fs.String("scale", "max_abs_logit", "the top-level number of A that scales -rel")
	ignore := fs.String("ignore", "", "comma-separated keys not compared, at any depth")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 2 {
		return nil, errors.New("jsondiff wants two files")
	}
	var docs [2]any
	for i, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &docs[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	tol := 0.0
	if *rel != 0 {
		top, _ := docs[0].(map[string]any)
		s, ok := top[*scale].(float64)
		if !ok {
			return nil, fmt.Errorf("%s has no number %q to scale -rel", fs.Arg(0), *scale)
		}
		tol = *rel * math.Max(1, math.Abs(s))
	}
	skip := map[string]bool{}
	for _, k := range strings.Split(*ignore, ",") {
		if k != "" {
			skip[k] = true
		}
	}
	return diff("$", docs[0], docs[1], tol, skip, nil), nil
}

// diff appends to out the differences between a and b, below path.
func diff(path string, a, b any, tol float64, skip map[string]bool, out []string) []string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: object vs %s", path, kind(b)))
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if skip[k] {
				continue
			}
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case !inA:
				out = append(out, fmt.Sprintf("%s.%s: only in the second", path, k))
			case !inB:
				out = append(out, fmt.Sprintf("%s.%s: only in the first", path, k))
			default:
				out = diff(path+"."+k, x, y, tol, skip, out)
			}
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: array vs %s", path, kind(b)))
		}
		if len(av) != len(bv) {
			return append(out, fmt.Sprintf("%s: %d vs %d elements", path, len(av), len(bv)))
		}
		for i := range av {
			out = diff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], tol, skip, out)
		}
		return out
	case float64:
		bv, ok := b.(float64)
		if !ok {
			return append(out, fmt.Sprintf("%s: number vs %s", path, kind(b)))
		}
		if d := math.Abs(av - bv); !(d <= tol) && av != bv {
			return append(out, fmt.Sprintf("%s: %v vs %v (|Δ| %.3g > tolerance %.3g)", path, av, bv, d, tol))
		}
		return out
	default:
		if a != b {
			return append(out, fmt.Sprintf("%s: %v vs %v", path, a, b))
		}
		return out
	}
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func jsongetCmd(args []string, out io.Writer) error {
	if len(args) != 2 {
		return errors.New("usage: slurmtest jsonget FILE KEY")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	v, ok := doc[args[1]]
	if !ok {
		return fmt.Errorf("%s: no key %q", args[0], args[1])
	}
	vals, isArray := v.([]any)
	if !isArray {
		vals = []any{v}
	}
	for _, x := range vals {
		switch x := x.(type) {
		case string:
			fmt.Fprintln(out, x)
		case float64:
			fmt.Fprintln(out, strconv.FormatFloat(x, 'g', -1, 64))
		default:
			j, _ := json.Marshal(x)
			fmt.Fprintln(out, string(j))
		}
	}
	return nil
}
