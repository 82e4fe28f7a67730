package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// rawHeader returns the file's first bytes as they are on disk: the 8-byte
// little-endian header length followed by the JSON header (padding included).
// The header was validated when the file was opened.
func (f *File) rawHeader() ([]byte, error) {
	if f.r == nil {
		return nil, fileError(f.Path, "no data source (file not read from disk)")
	}
	buf := make([]byte, f.headerLen)
	if err := readFullAt(f.r, buf, 0); err != nil {
		return nil, fileError(f.Path, "reading the header: %v", err)
	}
	return buf, nil
}

// SourceSHA256 identifies the checkpoint cheaply, without reading tensor data:
// the hex SHA-256 over a sequence of parts, each written as its name (UTF-8), a
// 0 byte, its length as a little-endian uint64, then its bytes. The parts are,
// in this order:
//
//   - every safetensors file of the checkpoint, sorted by base name, named by
//     its base name, with its 8-byte header length and its JSON header
//     (padding included): tensor names, dtypes, shapes, offsets and
//     __metadata__, but not the tensor data;
//   - model.safetensors.index.json, when the model is sharded, whole;
//   - config.json, when there is one, whole.
//
// Index and config are read from Dir (a bare safetensors file has neither).
// Two checkpoints with the same value have the same tensor layout and config;
// an in-place edit of tensor values alone does not change it. grow writes it
// as the grow.source_sha256 metadata of what it derives from the checkpoint.
func (c *Checkpoint) SourceSHA256() (string, error) {
	h := sha256.New()
	part := func(name string, data []byte) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(n[:])
		h.Write(data)
	}
	files := slices.Clone(c.Files)
	slices.SortFunc(files, func(a, b *File) int { return strings.Compare(filepath.Base(a.Path), filepath.Base(b.Path)) })
	for _, f := range files {
		head, err := f.rawHeader()
		if err != nil {
			return "", err
		}
		part(filepath.Base(f.Path), head)
	}
	if c.Dir != "" {
		for _, name := range []string{"model.safetensors.index.json", "config.json"} {
			data, err := os.ReadFile(filepath.Join(c.Dir, name))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return "", fmt.Errorf("checkpoint: %w", err)
			}
			part(name, data)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
