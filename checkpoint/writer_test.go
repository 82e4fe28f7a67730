package checkpoint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	oracle "github.com/nlpodyssey/safetensors"
)

// tensorHashes returns the SHA-256 of every tensor's bytes, by name.
func tensorHashes(t *testing.T, c *Checkpoint) map[string][32]byte {
	t.Helper()
	out := make(map[string][32]byte)
	for _, tn := range c.Tensors {
		b, err := tn.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out[tn.Name] = sha256.Sum256(b)
	}
	return out
}

// dirHashes returns the SHA-256 of every file in dir, by name.
func dirHashes(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := make(map[string][32]byte)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

func copyEntries(c *Checkpoint) []Entry {
	var es []Entry
	for _, tn := range c.Tensors {
		es = append(es, CopyEntry(tn))
	}
	return es
}

func openStories(t *testing.T) *Checkpoint {
	t.Helper()
	c, err := Open(stories260k)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkOracle reads every safetensors file of dir with nlpodyssey/safetensors and
// checks "format": "pt" and that each tensor equals the one read by Open.
func checkOracle(t *testing.T, dir string, c *Checkpoint) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	seen := 0
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := oracle.Deserialize(data)
		if err != nil {
			t.Fatalf("%s: oracle: %v", p, err)
		}
		if n := binary.LittleEndian.Uint64(data); n%8 != 0 {
			t.Errorf("%s: header length %d is not a multiple of 8", p, n)
		}
		var hdr map[string]json.RawMessage
		n := binary.LittleEndian.Uint64(data)
		if err := json.Unmarshal(data[8:8+n], &hdr); err != nil {
			t.Fatal(err)
		}
		var meta map[string]string
		if err := json.Unmarshal(hdr["__metadata__"], &meta); err != nil || meta["format"] != "pt" {
			t.Errorf("%s: __metadata__ %s lacks format pt", p, hdr["__metadata__"])
		}
		for _, v := range ref.Tensors() {
			seen++
			tn, ok := c.Tensor(v.Name)
			if !ok {
				t.Errorf("%s: extra tensor %q", p, v.Name)
				continue
			}
			b, err := tn.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, v.TensorView.Data()) || v.TensorView.DType().String() != string(tn.DType) {
				t.Errorf("%s: tensor %q differs from the oracle", p, v.Name)
			}
		}
	}
	if seen != len(c.Tensors) {
		t.Errorf("oracle saw %d tensors, Open %d", seen, len(c.Tensors))
	}
}

// TestRoundTripStories writes stories260k unchanged (one file and sharded) and
// checks every tensor's SHA-256, the side files and config.json.
func TestRoundTripStories(t *testing.T) {
	src := openStories(t)
	want := tensorHashes(t, src)
	srcFiles := dirHashes(t, stories260k)
	for _, tc := range []struct {
		name   string
		max    int64
		shards int
		entry  func(*Tensor) Entry
	}{
		{"one file, CopyEntry", 0, 1, CopyEntry},
		{"one file, ConvertEntry to the same dtype", 0, 1, func(tn *Tensor) Entry { return ConvertEntry(tn, tn.Name, tn.DType) }},
		{"sharded", 200_000, -1, CopyEntry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			var es []Entry
			for _, tn := range src.Tensors {
				es = append(es, tc.entry(tn))
			}
			err := WriteDir(out, es, WriteOptions{MaxShardSize: tc.max, Config: src.Config, SideFilesDir: src.Dir, SideFiles: src.SideFiles, Metadata: map[string]string{"grow.version": "test"}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if tc.shards > 0 && len(got.Files) != tc.shards {
				t.Errorf("%d files, want %d", len(got.Files), tc.shards)
			}
			if tc.shards < 0 && len(got.Files) < 2 {
				t.Errorf("%d files, want several", len(got.Files))
			}
			gh := tensorHashes(t, got)
			if len(gh) != len(want) {
				t.Errorf("%d tensors, want %d", len(gh), len(want))
			}
			for name, h := range want {
				if gh[name] != h {
					t.Errorf("tensor %q: SHA-256 differs", name)
				}
				a, _ := src.Tensor(name)
				b, _ := got.Tensor(name)
				if b == nil || a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) {
					t.Errorf("tensor %q: dtype/shape differ", name)
				}
			}
			for _, f := range got.Files {
				if f.Metadata["format"] != "pt" || f.Metadata["grow.version"] != "test" {
					t.Errorf("%s: metadata %v", f.Path, f.Metadata)
				}
			}
			outFiles := dirHashes(t, out)
			for _, s := range src.SideFiles {
				if outFiles[s] != srcFiles[s] {
					t.Errorf("side file %s not copied verbatim", s)
				}
			}
			if got.Config == nil || got.Config.Hidden != src.Config.Hidden || got.Config.Layers != src.Config.Layers {
				t.Errorf("config.json not written back: %+v", got.Config)
			}
			checkOracle(t, out, got)
		})
	}
	if after := dirHashes(t, stories260k); fmt.Sprint(after) != fmt.Sprint(srcFiles) {
		t.Error("source directory changed")
	}
}

// TestSharding: a tiny MaxShardSize gives several shards named as HF names them,
// a valid index, "format": "pt" in every shard, each shard within the limit
// unless it holds a single larger tensor, and identical tensors on reading back.
func TestSharding(t *testing.T) {
	src := openStories(t)
	const max = 100_000
	out := filepath.Join(t.TempDir(), "sharded")
	if err := WriteDir(out, copyEntries(src), WriteOptions{MaxShardSize: max, Config: src.Config}); err != nil {
		t.Fatal(err)
	}
	// Expected shards, computed from the rule: fill in order; start a new shard
	// when the next tensor would pass the limit.
	var wantShards [][]string
	var cur int64
	for _, tn := range src.Tensors {
		if len(wantShards) == 0 || (cur > 0 && cur+tn.ByteSize() > max) {
			wantShards = append(wantShards, nil)
			cur = 0
		}
		wantShards[len(wantShards)-1] = append(wantShards[len(wantShards)-1], tn.Name)
		cur += tn.ByteSize()
	}
	n := len(wantShards)
	if n < 3 {
		t.Fatalf("test needs several shards, plan has %d", n)
	}
	data, err := os.ReadFile(filepath.Join(out, IndexName))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ParseIndex(data, IndexName)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, tn := range src.Tensors {
		total += tn.ByteSize()
	}
	if idx.TotalSize != total {
		t.Errorf("total_size %d, want %d", idx.TotalSize, total)
	}
	for i, names := range wantShards {
		shard := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
		f, err := OpenFile(filepath.Join(out, shard))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var size int64
		for _, tn := range f.Tensors {
			got = append(got, tn.Name)
			size += tn.ByteSize()
			if idx.WeightMap[tn.Name] != shard {
				t.Errorf("index puts %q in %q, it is in %q", tn.Name, idx.WeightMap[tn.Name], shard)
			}
		}
		f.Close()
		if !slices.Equal(got, names) {
			t.Errorf("%s holds %v, want %v", shard, got, names)
		}
		if size > max && len(got) > 1 {
			t.Errorf("%s holds %d bytes in %d tensors, over the limit", shard, size, len(got))
		}
		if f.Metadata["format"] != "pt" {
			t.Errorf("%s: metadata %v", shard, f.Metadata)
		}
	}
	if _, err := os.Stat(filepath.Join(out, SingleName)); err == nil {
		t.Error("sharded output also has model.safetensors")
	}
	got, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if fmt.Sprint(tensorHashes(t, got)) != fmt.Sprint(tensorHashes(t, src)) {
		t.Error("tensors differ after sharding")
	}
	checkOracle(t, out, got)
}

// TestBigTensorOwnShard: a tensor larger than the limit is alone in its shard.
func TestBigTensorOwnShard(t *testing.T) {
	mk := func(name string, n int) Entry {
		return BytesEntry(name, U8, []int{n}, bytes.Repeat([]byte{byte(n)}, n))
	}
	out := filepath.Join(t.TempDir(), "m")
	es := []Entry{mk("a", 10), mk("b", 10), mk("big", 100), mk("c", 10), mk("d", 25), mk("e", 5)}
	if err := WriteDir(out, es, WriteOptions{MaxShardSize: 30}); err != nil {
		t.Fatal(err)
	}
	c, err := Open(filepath.Join(out))
	if err == nil {
		c.Close()
		t.Fatal("opened a directory without config.json")
	}
	want := [][]string{{"a", "b"}, {"big"}, {"c"}, {"d", "e"}}
	for i, names := range want {
		f, err := OpenFile(filepath.Join(out, ShardName(i, len(want))))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tn := range f.Tensors {
			got = append(got, tn.Name)
		}
		f.Close()
		if !slices.Equal(got, names) {
			t.Errorf("shard %d holds %v, want %v", i+1, got, names)
		}
	}
}

// TestBF16RoundTrip: F32 → BF16 → F32 through WriteDir equals rounding each value
// once to BF16 (reference rounding), on every stories260k tensor.
func TestBF16RoundTrip(t *testing.T) {
	src := openStories(t)
	tmp := t.TempDir()
	var es []Entry
	for _, tn := range src.Tensors {
		es = append(es, ConvertEntry(tn, tn.Name, BF16))
	}
	mid := filepath.Join(tmp, "bf16")
	if err := WriteDir(mid, es, WriteOptions{Config: src.Config}); err != nil {
		t.Fatal(err)
	}
	bf, err := Open(mid)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	es = es[:0]
	for _, tn := range bf.Tensors {
		if tn.DType != BF16 {
			t.Fatalf("%s is %s", tn.Name, tn.DType)
		}
		es = append(es, ConvertEntry(tn, tn.Name, F32))
	}
	back := filepath.Join(tmp, "f32")
	if err := WriteDir(back, es, WriteOptions{Config: src.Config}); err != nil {
		t.Fatal(err)
	}
	got, err := Open(back)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	changed := 0
	for _, a := range src.Tensors {
		b, _ := got.Tensor(a.Name)
		if b == nil || b.DType != F32 {
			t.Fatalf("%s missing or not F32", a.Name)
		}
		va, err := a.Float64()
		if err != nil {
			t.Fatal(err)
		}
		vb, err := b.Float32()
		if err != nil {
			t.Fatal(err)
		}
		for i := range va {
			want := refRound(va[i], bf16Format)
			if !same(float64(vb[i]), want) {
				t.Fatalf("%s[%d]: %v → %v, want %v", a.Name, i, va[i], vb[i], want)
			}
			if float64(vb[i]) != va[i] {
				changed++
			}
		}
	}
	if changed == 0 {
		t.Error("no value changed: the conversion did not happen")
	}
}

// TestSpecialValuesEntries: Float32Entry/Float64Entry keep NaN, ±Inf, -0 and round once.
func TestSpecialValuesEntries(t *testing.T) {
	vals := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1 + 1.0/256, 1 + 3.0/256, 625, 3125, 1e-45, 70000, 1.0 / 3}
	for _, dt := range []DType{F64, F32, F16, BF16} {
		var buf bytes.Buffer
		f32 := make([]float32, len(vals))
		for i, v := range vals {
			f32[i] = float32(v)
		}
		es := []Entry{
			Float64Entry("a", dt, []int{len(vals)}, func() ([]float64, error) { return vals, nil }),
			Float32Entry("b", dt, []int{len(vals)}, func() ([]float32, error) { return f32, nil }),
		}
		if err := WriteSafetensors(&buf, es, nil); err != nil {
			t.Fatal(err)
		}
		f, err := ReadHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "mem")
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range f.Tensors {
			got, err := tn.Float64()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if tn.Name == "b" {
					v = float64(float32(v))
				}
				var want float64
				switch dt {
				case F64:
					want = v
				case F32:
					want = float64(float32(v))
				case F16:
					want = refRound(v, f16Format)
				case BF16:
					want = refRound(v, bf16Format)
				}
				if !same(got[i], want) {
					t.Errorf("%s %s[%d]: %v → %v, want %v", dt, tn.Name, i, v, got[i], want)
				}
			}
		}
	}
}

func TestWriteSafetensorsHeader(t *testing.T) {
	var buf bytes.Buffer
	es := []Entry{
		BytesEntry("z.<&>", U8, []int{3}, []byte{1, 2, 3}),
		BytesEntry("a", I16, []int{1, 2}, []byte{1, 0, 2, 0}),
		BytesEntry("empty", F32, []int{0, 4}, nil),
		BytesEntry("scalar", F32, nil, []byte{0, 0, 128, 63}),
	}
	if err := WriteSafetensors(&buf, es, map[string]string{"format": "tf", "k": "v"}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	n := binary.LittleEndian.Uint64(data)
	if n%8 != 0 || !bytes.HasSuffix(bytes.TrimRight(data[8:8+n], " "), []byte("}")) {
		t.Errorf("header of %d bytes not padded with spaces to 8: %q", n, data[8:8+n])
	}
	f, err := ReadHeader(bytes.NewReader(data), int64(len(data)), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || f.Metadata["k"] != "v" {
		t.Errorf("metadata %v", f.Metadata)
	}
	var names []string
	for _, tn := range f.Tensors {
		names = append(names, tn.Name)
	}
	if !slices.Equal(names, []string{"z.<&>", "a", "empty", "scalar"}) {
		t.Errorf("order %v", names)
	}
	if _, err := oracle.Deserialize(data); err != nil {
		t.Errorf("oracle: %v", err)
	}
}

func TestWriteEntryErrors(t *testing.T) {
	tests := []struct {
		name string
		es   []Entry
		want string
	}{
		{"duplicate", []Entry{BytesEntry("a", U8, []int{1}, []byte{1}), BytesEntry("a", U8, []int{1}, []byte{1})}, `tensor "a" is written twice`},
		{"metadata name", []Entry{BytesEntry("__metadata__", U8, []int{1}, []byte{1})}, `"__metadata__"`},
		{"unknown dtype", []Entry{BytesEntry("a", "F8_E4M3", []int{1}, []byte{1})}, `unknown dtype "F8_E4M3"`},
		{"negative dim", []Entry{BytesEntry("a", U8, []int{-1}, nil)}, "negative or overflows"},
		{"too few bytes", []Entry{BytesEntry("a", F32, []int{2}, []byte{1, 2, 3})}, `tensor "a": wrote 3 bytes, its dtype and shape need 8`},
		{"too many bytes", []Entry{BytesEntry("a", U8, []int{2}, []byte{1, 2, 3})}, `tensor "a" writes more than its 2 bytes`},
		{"no Write", []Entry{{Name: "a", DType: U8, Shape: []int{1}}}, "no Write function"},
		{"wrong value count", []Entry{Float32Entry("a", F32, []int{3}, func() ([]float32, error) { return make([]float32, 2), nil })}, "2 values for shape [3]"},
		{"data error", []Entry{Float64Entry("a", F32, []int{3}, func() ([]float64, error) { return nil, errors.New("boom") })}, "boom"},
		{"int conversion", []Entry{ConvertEntry(&Tensor{Name: "i", DType: I32, Shape: []int{1}, size: 4, r: bytes.NewReader(make([]byte, 4))}, "i", F32)}, "cannot convert dtype I32 to F32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := WriteSafetensors(io.Discard, tc.es, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteSafetensors: %v, want %q", err, tc.want)
			}
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			if err := WriteDir(out, tc.es, WriteOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteDir: %v, want %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

// failingWriter fails once the shared budget of bytes is used up.
type failingWriter struct {
	w      io.Writer
	budget *int64
}

var errInjected = errors.New("injected write failure")

func (f *failingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > *f.budget {
		n, _ := f.w.Write(p[:*f.budget])
		*f.budget = 0
		return n, errInjected
	}
	*f.budget -= int64(len(p))
	return f.w.Write(p)
}

// TestFailureMidWrite: a writer that fails after N bytes (for several N, in every
// file of a sharded write) leaves no output and no temporary directory, an existing
// target untouched under Force, and the source files unchanged.
func TestFailureMidWrite(t *testing.T) {
	src := openStories(t)
	before := dirHashes(t, stories260k)
	// Total bytes a successful sharded write produces.
	okParent := t.TempDir()
	if err := WriteDir(filepath.Join(okParent, "ok"), copyEntries(src), WriteOptions{MaxShardSize: 300_000, Config: src.Config, SideFilesDir: src.Dir, SideFiles: src.SideFiles}); err != nil {
		t.Fatal(err)
	}
	var total int64
	for name := range dirHashes(t, filepath.Join(okParent, "ok")) {
		st, _ := os.Stat(filepath.Join(okParent, "ok", name))
		total += st.Size()
	}
	for _, n := range []int64{0, 1, 7, 8, 100, 4096, 300_000, 600_000, total - 20000, total - 1} {
		for _, force := range []bool{false, true} {
			t.Run(fmt.Sprintf("N=%d force=%v", n, force), func(t *testing.T) {
				parent := t.TempDir()
				out := filepath.Join(parent, "out")
				if force {
					if err := os.Mkdir(out, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(out, "keep.txt"), []byte("old"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				budget := n
				err := WriteDir(out, copyEntries(src), WriteOptions{
					MaxShardSize: 300_000, Config: src.Config, SideFilesDir: src.Dir, SideFiles: src.SideFiles, Force: force,
					WrapWriter: func(w io.Writer) io.Writer { return &failingWriter{w: w, budget: &budget} },
				})
				if !errors.Is(err, errInjected) {
					t.Fatalf("err = %v, want the injected failure", err)
				}
				nothingLeft(t, parent, out, force, "failed")
			})
		}
	}
	if after := dirHashes(t, stories260k); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("source files changed")
	}
}

func TestExistingTarget(t *testing.T) {
	src := openStories(t)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "old.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteDir(out, copyEntries(src), WriteOptions{Config: src.Config})
	if err == nil || !strings.Contains(err.Error(), out+" already exists") {
		t.Fatalf("err = %v, want refusal", err)
	}
	if _, err := os.Stat(filepath.Join(out, "old.txt")); err != nil {
		t.Fatal("refused write touched the target")
	}
	p := &countingProgress{}
	if err := WriteDir(out, copyEntries(src), WriteOptions{Config: src.Config, Force: true, Progress: p}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "old.txt")); err == nil {
		t.Error("forced write kept the old file")
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("parent holds %v, want only out", ents)
	}
	var total int64
	for _, tn := range src.Tensors {
		total += tn.ByteSize()
	}
	if p.starts != 1 || p.finishes != 1 || p.tensors != len(src.Tensors) || p.bytes != total || p.done != len(src.Tensors) || p.startBytes != total {
		t.Errorf("progress %+v, want %d tensors and %d bytes", p, len(src.Tensors), total)
	}
	// Force refuses to replace a directory holding the source.
	if err := WriteDir(filepath.Dir(stories260k), nil, WriteOptions{Force: true, SideFilesDir: stories260k}); err == nil || !strings.Contains(err.Error(), "contains the source directory") {
		t.Errorf("replacing the source's parent: %v", err)
	}
}

type countingProgress struct {
	starts, finishes, tensors, done int
	startBytes, bytes               int64
}

func (p *countingProgress) Start(n int, b int64) { p.starts++; p.tensors, p.startBytes = n, b }
func (p *countingProgress) Add(n int64, done bool) {
	p.bytes += n
	if done {
		p.done++
	}
}
func (p *countingProgress) Finish() { p.finishes++ }

func TestSideFileNames(t *testing.T) {
	for _, s := range []string{"../x", "/etc/passwd", "", "."} {
		out := filepath.Join(t.TempDir(), "out")
		if err := WriteDir(out, nil, WriteOptions{SideFilesDir: stories260k, SideFiles: []string{s}}); err == nil {
			t.Errorf("side file %q accepted", s)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := WriteDir(out, nil, WriteOptions{SideFilesDir: stories260k, SideFiles: []string{"model.safetensors"}}); err == nil || !strings.Contains(err.Error(), "would overwrite") {
		t.Errorf("side file colliding with a shard: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"5GB", 5_000_000_000}, {"500MB", 500_000_000}, {"2GiB", 2 << 30}, {"1000", 1000},
		{"1.5GB", 1_500_000_000}, {"10kb", 10_000}, {"3KiB", 3072}, {" 7 MB ", 7_000_000}, {"1TB", 1e12},
		{"64M", 64_000_000}, {"100B", 100}, {"0.5KiB", 512},
		{"", -1}, {"GB", -1}, {"-1GB", -1}, {"0", -1}, {"1e9", -1}, {"5XB", -1}, {"abc", -1}, {"99999999999TB", -1},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

// TestForceInPlace converts a model directory onto itself with Force: the new
// directory replaces the source only once complete.
func TestForceInPlace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name := range dirHashes(t, stories260k) {
		b, err := os.ReadFile(filepath.Join(stories260k, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string][]float64)
	var es []Entry
	for _, tn := range src.Tensors {
		v, err := tn.Float64()
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			v[i] = refRound(v[i], bf16Format)
		}
		want[tn.Name] = v
		es = append(es, ConvertEntry(tn, tn.Name, BF16))
	}
	// One byte copy from the file being replaced, too.
	mid := src.Tensors[len(es)/2]
	es[len(es)/2] = CopyEntry(mid)
	if want[mid.Name], err = mid.Float64(); err != nil {
		t.Fatal(err)
	}
	err = WriteDir(dir, es, WriteOptions{Force: true, Config: src.Config, SideFilesDir: src.Dir, SideFiles: src.SideFiles})
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	for name, w := range want {
		tn, ok := got.Tensor(name)
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		v, err := tn.Float64()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v, w) {
			t.Errorf("tensor %q differs after the in-place conversion", name)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(dir)); len(ents) != 1 {
		t.Errorf("parent holds %v, want only the model", ents)
	}
}

// TestCopyAfterSourceReplaced: when the source's path names another file by the
// time it is copied, the byte copy reads the file that was opened, not the path.
func TestCopyAfterSourceReplaced(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.safetensors")
	orig := st(`{"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, []byte{1, 2, 3, 4})
	if err := os.WriteFile(p, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other := filepath.Join(dir, "b")
	if err := os.WriteFile(other, st(`{"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, []byte{9, 9, 9, 9}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, p); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := WriteDir(out, []Entry{CopyEntry(f.Tensors[0])}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	g, err := OpenFile(filepath.Join(out, SingleName))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if b, _ := g.Tensors[0].Bytes(); !bytes.Equal(b, []byte{1, 2, 3, 4}) {
		t.Errorf("copied %v, want the opened file's 1 2 3 4", b)
	}
}

// cancelProgress cancels its context once `after` tensors are done.
type cancelProgress struct {
	after, done int
	cancel      func()
}

func (p *cancelProgress) Start(int, int64) {}
func (p *cancelProgress) Add(_ int64, tensorDone bool) {
	if tensorDone {
		p.done++
	}
	if p.done >= p.after {
		p.cancel()
	}
}
func (p *cancelProgress) Finish() {}

// TestContextStopsWrite: a context cancelled during the write (as grow does on
// Ctrl-C), before the first tensor, after some, or after the last one, stops
// WriteDir with an error wrapping context.Canceled, for byte copies (kernel
// copy) and converted tensors alike; no output and no temporary directory stay,
// and an existing target under Force is kept.
func TestContextStopsWrite(t *testing.T) {
	src := openStories(t)
	n := len(src.Tensors)
	kinds := map[string]func() []Entry{
		"copy": func() []Entry { return copyEntries(src) },
		"bf16": func() []Entry {
			var es []Entry
			for _, tn := range src.Tensors {
				es = append(es, ConvertEntry(tn, tn.Name, BF16))
			}
			return es
		},
	}
	for kind, entries := range kinds {
		for _, after := range []int{0, 1, 10, n - 1, n} {
			for _, force := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/after=%d/force=%v", kind, after, force), func(t *testing.T) {
					parent := t.TempDir()
					out := filepath.Join(parent, "out")
					if force {
						if err := os.Mkdir(out, 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(filepath.Join(out, "keep.txt"), []byte("old"), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					p := &cancelProgress{after: after, cancel: cancel}
					err := WriteDir(out, entries(), WriteOptions{
						MaxShardSize: 300_000, Config: src.Config, SideFilesDir: src.Dir, SideFiles: src.SideFiles,
						Force: force, Progress: p, Context: ctx,
					})
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("err = %v, want one wrapping context.Canceled", err)
					}
					nothingLeft(t, parent, out, force, "stopped")
				})
			}
		}
	}
}

// TestFailureRemovesCreatedParents: WriteDir creates a missing parent of the
// output; when the write then fails, the directories it created go too (those
// that existed stay), so that a failure leaves nothing behind.
func TestFailureRemovesCreatedParents(t *testing.T) {
	src := openStories(t)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "had"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "had", "new1", "new2", "out")
	budget := int64(100)
	err := WriteDir(out, copyEntries(src), WriteOptions{
		WrapWriter: func(w io.Writer) io.Writer { return &failingWriter{w: w, budget: &budget} },
	})
	if !errors.Is(err, errInjected) {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "had"))
	if len(ents) != 0 {
		t.Fatalf("%s/had holds %v after a failed write, want nothing", root, ents)
	}
	// A successful write keeps them.
	if err := WriteDir(out, copyEntries(src), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, SingleName)); err != nil {
		t.Fatal(err)
	}
}

// nothingLeft checks the parent of a target after a write that did not finish:
// with force only the old target, unchanged (its keep.txt says "old"); without
// it nothing at all.
func nothingLeft(t *testing.T, parent, out string, force bool, how string) {
	t.Helper()
	ents, _ := os.ReadDir(parent)
	if force {
		if len(ents) != 1 || ents[0].Name() != "out" {
			t.Fatalf("parent holds %v, want only the old out", ents)
		}
		if b, err := os.ReadFile(filepath.Join(out, "keep.txt")); err != nil || string(b) != "old" {
			t.Error("existing target changed")
		}
	} else if len(ents) != 0 {
		t.Fatalf("parent holds %v after a %s write, want nothing", ents, how)
	}
}
