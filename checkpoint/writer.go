package checkpoint

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// DefaultMaxShardSize is the shard size limit WriteDir uses when
// WriteOptions.MaxShardSize is 0: 5 GB, as transformers' save_pretrained.
const DefaultMaxShardSize = 5_000_000_000

// writeBuffer is the buffer size of the file writers.
const writeBuffer = 1 << 20

// plannedEntry is an entry with its validated byte size.
type plannedEntry struct {
	Entry
	size int64
}

// planEntries validates entries (known dtype, valid shape, non-nil Write, unique
// names that are not "__metadata__") and computes their sizes.
func planEntries(entries []Entry) ([]plannedEntry, int64, error) {
	out := make([]plannedEntry, len(entries))
	seen := make(map[string]bool, len(entries))
	var total int64
	for i, e := range entries {
		if e.Name == "__metadata__" {
			return nil, 0, fmt.Errorf("checkpoint: a tensor cannot be named \"__metadata__\"")
		}
		if seen[e.Name] {
			return nil, 0, fmt.Errorf("checkpoint: tensor %q is written twice", e.Name)
		}
		seen[e.Name] = true
		if e.Write == nil {
			return nil, 0, fmt.Errorf("checkpoint: tensor %q has no Write function", e.Name)
		}
		n, err := e.ByteSize()
		if err != nil {
			return nil, 0, err
		}
		if total+n < total {
			return nil, 0, fmt.Errorf("checkpoint: total size of the tensors overflows")
		}
		total += n
		out[i] = plannedEntry{e, n}
	}
	return out, total, nil
}

// buildHeader returns the 8-byte length and the JSON header for entries in the
// given order, padded with spaces to a multiple of 8. metadata always gets
// "format": "pt".
func buildHeader(entries []plannedEntry, metadata map[string]string) ([]byte, error) {
	meta := make(map[string]string, len(metadata)+1)
	for k, v := range metadata {
		meta[k] = v
	}
	meta["format"] = "pt"
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var b bytes.Buffer
	b.Write(make([]byte, 8))
	b.WriteString(`{"__metadata__":{`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, meta[k])
	}
	b.WriteByte('}')
	var off int64
	for _, e := range entries {
		b.WriteByte(',')
		writeJSONString(&b, e.Name)
		b.WriteString(`:{"dtype":`)
		writeJSONString(&b, string(e.DType))
		b.WriteString(`,"shape":[`)
		for i, d := range e.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, d)
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, off, off+e.size)
		off += e.size
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	out := b.Bytes()
	n := len(out) - 8
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("checkpoint: header of %d bytes exceeds the limit of %d", n, MaxHeaderSize)
	}
	binary.LittleEndian.PutUint64(out, uint64(n))
	return out, nil
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode adds a newline
}

// countingWriter passes writes through, refusing more than limit bytes, and
// reports each write to onWrite.
type countingWriter struct {
	w       io.Writer
	name    string
	limit   int64
	n       int64
	onWrite func(int64)
	ctx     context.Context // nil: never stopped
}

// stopped returns the error of a done ctx (nil ctx: nil).
func stopped(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}

// copyFile passes a kernel-side copy through to the sink, within the limit.
func (c *countingWriter) copyFile(src *os.File, off, n int64) (int64, bool, error) {
	fc, ok := c.w.(*shardSink)
	if !ok {
		return 0, false, nil
	}
	if c.n+n > c.limit {
		return 0, true, fmt.Errorf("tensor %q writes more than its %d bytes", c.name, c.limit)
	}
	if err := stopped(c.ctx); err != nil {
		return 0, true, err
	}
	written, handled, err := fc.copyFile(src, off, n, func(k int64) {
		c.n += k
		if c.onWrite != nil {
			c.onWrite(k)
		}
	})
	return written, handled, err
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if err := stopped(c.ctx); err != nil {
		return 0, err
	}
	if c.n+int64(len(p)) > c.limit {
		return 0, fmt.Errorf("tensor %q writes more than its %d bytes", c.name, c.limit)
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.onWrite != nil && n > 0 {
		c.onWrite(int64(n))
	}
	return n, err
}

// writeShard writes the header and the entries' data to w. progress and ctx may
// be nil; a done ctx stops the write with its error.
func writeShard(ctx context.Context, w io.Writer, entries []plannedEntry, metadata map[string]string, progress Progress) error {
	hdr, err := buildHeader(entries, metadata)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("writing the header: %w", err)
	}
	for _, e := range entries {
		if err := stopped(ctx); err != nil {
			return err
		}
		cw := &countingWriter{w: w, name: e.Name, limit: e.size, ctx: ctx}
		if progress != nil {
			cw.onWrite = func(n int64) { progress.Add(n, false) }
		}
		if err := e.Write(cw); err != nil {
			return fmt.Errorf("tensor %q: %w", e.Name, err)
		}
		if cw.n != e.size {
			return fmt.Errorf("tensor %q: wrote %d bytes, its dtype and shape need %d", e.Name, cw.n, e.size)
		}
		if progress != nil {
			progress.Add(0, true)
		}
	}
	return nil
}

// WriteSafetensors writes one safetensors file with the given entries and metadata to w.
//
// The header is computed first from the entries' dtypes and shapes (tensors in the
// order given, offsets contiguous, padded with spaces to a multiple of 8 bytes,
// "__metadata__" with "format": "pt" added to metadata); then each entry's Write
// streams its data, which must be exactly its byte size.
func WriteSafetensors(w io.Writer, entries []Entry, metadata map[string]string) error {
	planned, _, err := planEntries(entries)
	if err != nil {
		return err
	}
	if err := writeShard(context.Background(), w, planned, metadata, nil); err != nil {
		if strings.HasPrefix(err.Error(), "checkpoint: ") {
			return err
		}
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// ShardName returns the file name of shard i (0-based) of n: model.safetensors
// when n is 1, else model-0000{i+1}-of-0000{n}.safetensors.
func ShardName(i, n int) string {
	if n == 1 {
		return SingleName
	}
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
}

// planShards splits entries greedily into shards of at most max bytes of tensor
// data; a tensor larger than max gets a shard of its own. There is always at least
// one shard.
func planShards(entries []plannedEntry, max int64) [][]plannedEntry {
	shards := [][]plannedEntry{nil}
	var cur int64
	for _, e := range entries {
		last := len(shards) - 1
		if len(shards[last]) > 0 && cur+e.size > max {
			shards = append(shards, nil)
			last++
			cur = 0
		}
		shards[last] = append(shards[last], e)
		cur += e.size
	}
	return shards
}

// WriteDir writes a model directory: shards (model.safetensors, or
// model-0000i-of-0000N.safetensors with an index), config.json and side files,
// atomically: Stage writes them into a temporary directory beside dir, and
// Commit moves it into place.
//
// Every header is computed before any data is written; entries are then streamed
// one at a time, so memory stays near that of one tensor's Write. An existing dir
// is refused unless opts.Force is set; then it is replaced only once the new
// directory is complete. Missing parent directories of dir are created. On any
// error the temporary directory and the parent directories it created are
// removed, and dir is left as it was. Source files (the side files) are only
// opened for reading.
func WriteDir(dir string, entries []Entry, opts WriteOptions) error {
	s, err := Stage(dir, entries, opts)
	if err != nil {
		return err
	}
	if _, err := s.Commit(); err != nil {
		s.Discard()
		return err
	}
	return nil
}

// Stage writes what WriteDir writes into a temporary directory beside dir
// (".NAME.grow-tmp-*", with a lock file beside it that marks it as in use) and
// returns it unmoved: the caller can read it (check it) before Commit moves it
// into place, or Discard it. Temporary directories of runs for the same dir
// that were killed (their lock is free) are removed first, and opts.Logf is
// told. On any error nothing is left behind.
func Stage(dir string, entries []Entry, opts WriteOptions) (_ *Staged, err error) {
	if dir == "" {
		return nil, errors.New("checkpoint: no output directory given")
	}
	dir = filepath.Clean(dir)
	planned, total, err := planEntries(entries)
	if err != nil {
		return nil, err
	}
	max := opts.MaxShardSize
	if max < 0 {
		return nil, fmt.Errorf("checkpoint: max shard size %d is negative", max)
	}
	if max == 0 {
		max = DefaultMaxShardSize
	}
	shards := planShards(planned, max)
	sides, err := outputNames(shards, opts)
	if err != nil {
		return nil, err
	}
	if err := checkReplace(dir, opts); err != nil {
		return nil, err
	}
	s, err := newStaged(dir, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Discard()
		}
	}()
	if opts.Progress != nil {
		opts.Progress.Start(len(planned), total)
		defer opts.Progress.Finish()
	}
	w := &dirWriter{tmp: s.tmp, opts: opts}
	if err := w.writeAll(shards, total, sides); err != nil {
		return nil, err
	}
	if err := stopped(opts.Context); err != nil {
		return nil, fmt.Errorf("checkpoint: writing %s stopped: %w", dir, err)
	}
	if opts.Sync {
		if err := syncPath(s.tmp); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// outputNames checks that the side files are relative paths that no written
// file overwrites, and returns them cleaned.
func outputNames(shards [][]plannedEntry, opts WriteOptions) ([]string, error) {
	names := make(map[string]bool)
	for i := range shards {
		names[ShardName(i, len(shards))] = true
	}
	if len(shards) > 1 {
		names[IndexName] = true
	}
	if opts.Config != nil {
		names[ConfigName] = true
	}
	for name := range opts.ExtraFiles {
		if c, err := cleanSideName(name); err != nil || c != name || names[c] {
			return nil, fmt.Errorf("checkpoint: extra file %q is not a new relative name inside the output", name)
		}
		names[name] = true
	}
	sides := make([]string, len(opts.SideFiles))
	for i, s := range opts.SideFiles {
		c, err := cleanSideName(s)
		if err != nil {
			return nil, err
		}
		if names[c] {
			return nil, fmt.Errorf("checkpoint: side file %q would overwrite a file WriteDir writes", s)
		}
		names[c] = true
		sides[i] = c
	}
	return sides, nil
}

// checkReplace refuses an existing dir without opts.Force, and a dir whose
// replacement would remove a file the write reads: the side files' directory
// inside it, or a source file (opts.Sources) that resolves into it through
// symbolic links.
func checkReplace(dir string, opts WriteOptions) error {
	exists, err := pathExists(dir)
	if err != nil || !exists {
		return err
	}
	if !opts.Force {
		return fmt.Errorf("checkpoint: output %s already exists (force to replace it)", dir)
	}
	if opts.SideFilesDir != "" && isStrictAncestor(dir, opts.SideFilesDir) {
		return fmt.Errorf("checkpoint: refusing to replace %s: it contains the source directory %s", dir, opts.SideFilesDir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	for _, src := range opts.Sources {
		r, err := filepath.EvalSymlinks(src)
		if err != nil {
			continue
		}
		if r == real || isStrictAncestor(real, r) {
			return fmt.Errorf("checkpoint: refusing to replace %s: the source file %s resolves into it (%s)", dir, src, r)
		}
	}
	return nil
}

// writeAll writes the shards, the index, config.json and the side files.
func (d *dirWriter) writeAll(shards [][]plannedEntry, total int64, sides []string) error {
	opts := d.opts
	var weightMap map[string]string
	if len(shards) > 1 {
		weightMap = make(map[string]string)
	}
	for i, sh := range shards {
		name := ShardName(i, len(shards))
		err := d.writeFile(name, func(fw io.Writer) error {
			return writeShard(opts.Context, fw, sh, opts.Metadata, opts.Progress)
		})
		if err != nil {
			return err
		}
		for _, e := range sh {
			if weightMap != nil {
				weightMap[e.Name] = name
			}
		}
	}
	if weightMap != nil {
		idx := map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}
		data, err := json.MarshalIndent(idx, "", "  ")
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if err := d.writeBytes(IndexName, append(data, '\n')); err != nil {
			return err
		}
	}
	if opts.Config != nil {
		data, err := opts.Config.Marshal()
		if err != nil {
			return fmt.Errorf("checkpoint: config.json: %w", err)
		}
		if err := d.writeBytes(ConfigName, data); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(opts.ExtraFiles)) {
		if err := d.writeBytes(name, opts.ExtraFiles[name]); err != nil {
			return err
		}
	}
	for i, s := range sides {
		if err := stopped(opts.Context); err != nil {
			return fmt.Errorf("checkpoint: writing %s stopped: %w", s, err)
		}
		if err := d.copyFile(s, filepath.Join(opts.SideFilesDir, opts.SideFiles[i])); err != nil {
			return err
		}
	}
	return nil
}

// dirWriter writes files into the temporary directory.
type dirWriter struct {
	tmp  string
	opts WriteOptions
}

// writeFile creates name in the temporary directory and calls fill with a
// buffered writer on it (wrapped by opts.WrapWriter).
func (d *dirWriter) writeFile(name string, fill func(io.Writer) error) error {
	path := filepath.Join(d.tmp, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	var w io.Writer = f
	if d.opts.WrapWriter != nil {
		w = d.opts.WrapWriter(w)
	}
	bw := bufio.NewWriterSize(w, writeBuffer)
	err = fill(&shardSink{bw: bw, f: f, direct: d.opts.WrapWriter == nil, ctx: d.opts.Context})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && d.opts.Sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "checkpoint: ") {
			return err
		}
		return fmt.Errorf("checkpoint: writing %s: %w", name, err)
	}
	return nil
}

// shardSink is the buffered writer of one output file. When direct (no
// WrapWriter), byte copies of tensors go from the source file to the output file
// in the kernel (os.File.ReadFrom: copy_file_range on Linux, with a user-space
// fallback).
type shardSink struct {
	bw     *bufio.Writer
	f      *os.File
	direct bool
	ctx    context.Context // checked between the chunks of a kernel copy
}

func (s *shardSink) Write(p []byte) (int, error) { return s.bw.Write(p) }

// copyChunkDirect is the largest kernel copy between progress reports.
const copyChunkDirect = 64 << 20

// copyFile copies n bytes of src at off to the output file. It reopens src by
// name (so that the shared file offset of src is not moved) and checks that the
// name still refers to the same file; otherwise it reports handled = false.
func (s *shardSink) copyFile(src *os.File, off, n int64, report func(int64)) (int64, bool, error) {
	if !s.direct {
		return 0, false, nil
	}
	in, err := os.Open(src.Name())
	if err != nil {
		return 0, false, nil
	}
	defer in.Close()
	st1, err1 := in.Stat()
	st2, err2 := src.Stat()
	if err1 != nil || err2 != nil || !os.SameFile(st1, st2) {
		return 0, false, nil
	}
	if err := s.bw.Flush(); err != nil {
		return 0, true, err
	}
	if _, err := in.Seek(off, io.SeekStart); err != nil {
		return 0, true, err
	}
	var done int64
	for done < n {
		if err := stopped(s.ctx); err != nil {
			return done, true, err
		}
		k, err := s.f.ReadFrom(io.LimitReader(in, min(copyChunkDirect, n-done)))
		done += k
		if k > 0 {
			report(k)
		}
		if err != nil {
			return done, true, err
		}
		if k == 0 {
			return done, true, fmt.Errorf("source ended after %d of %d bytes", done, n)
		}
	}
	return done, true, nil
}

func (d *dirWriter) writeBytes(name string, data []byte) error {
	return d.writeFile(name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// copyFile copies the source file src (opened read-only) to name.
func (d *dirWriter) copyFile(name, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("checkpoint: side file: %w", err)
	}
	defer in.Close()
	return d.writeFile(name, func(w io.Writer) error {
		buf := make([]byte, copyChunk)
		_, err := io.CopyBuffer(w, struct{ io.Reader }{in}, buf)
		if err != nil {
			return fmt.Errorf("copying %s: %w", src, err)
		}
		return nil
	})
}

// cleanSideName checks that a side file name is a relative path inside the output.
func cleanSideName(s string) (string, error) {
	c := filepath.Clean(s)
	if s == "" || filepath.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("checkpoint: side file %q is not a relative path inside the model directory", s)
	}
	return c, nil
}

// pathExists reports whether p exists (without following a final symbolic link).
func pathExists(p string) (bool, error) {
	_, err := os.Lstat(p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("checkpoint: %w", err)
}

// missingDirs returns the directories MkdirAll(p) would create, deepest first.
func missingDirs(p string) ([]string, error) {
	var out []string
	for {
		exists, err := pathExists(p)
		if err != nil {
			return nil, err
		}
		if exists {
			return out, nil
		}
		out = append(out, p)
		up := filepath.Dir(p)
		if up == p {
			return out, nil
		}
		p = up
	}
}

// isStrictAncestor reports whether dir is a strict ancestor of p.
func isStrictAncestor(dir, p string) bool {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// syncPath fsyncs a directory.
func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("checkpoint: sync %s: %w", p, err)
	}
	return nil
}
