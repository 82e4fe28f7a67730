package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File names of a model directory.
const (
	ConfigName = "config.json"
	SingleName = "model.safetensors"
	// GrowthStateFile and GrowthMasksFile hold the masks of masked
	// structural growth beside the weights (see package claim).
	GrowthStateFile = "grow_state.json"
	GrowthMasksFile = "grow_masks.safetensors"
)

// maxIndexSize bounds the size of an index file read into memory.
const maxIndexSize = 256 << 20

// Open opens a model directory or a bare .safetensors file.
//
// A directory must hold config.json and either model.safetensors or
// model.safetensors.index.json with the shards it names (having both is an error).
// Every header is read and validated, and an index is checked against its shards
// (Index.Check); no tensor data is read. SideFiles lists the directory's other
// regular files (symbolic links followed), except weights in other formats
// (pytorch_model*.bin, tf_model*.h5, flax_model*.msgpack and their indexes),
// which would not match the weights a writer produces.
func Open(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if !st.IsDir() {
		f, err := OpenFile(path)
		if err != nil {
			return nil, err
		}
		c := &Checkpoint{Path: path, Files: []*File{f}}
		if err := c.collect(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	c := &Checkpoint{Path: path, Dir: path}
	if err := c.openDir(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Checkpoint) openDir() error {
	dir := c.Dir
	cfgPath := filepath.Join(dir, ConfigName)
	data, err := os.ReadFile(cfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return fileError(dir, "no %s: a model directory needs one (pass a .safetensors file to read bare weights)", ConfigName)
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if c.Config, err = ParseConfig(data, cfgPath); err != nil {
		return err
	}
	single := filepath.Join(dir, SingleName)
	idxPath := filepath.Join(dir, IndexName)
	hasSingle, hasIndex := isFile(single), isFile(idxPath)
	switch {
	case hasSingle && hasIndex:
		return fileError(dir, "has both %s and %s; keep one", SingleName, IndexName)
	case hasSingle:
		f, err := OpenFile(single)
		if err != nil {
			return err
		}
		c.Files = append(c.Files, f)
	case hasIndex:
		if err := c.openSharded(idxPath); err != nil {
			return err
		}
	default:
		return fileError(dir, "no %s or %s (only safetensors weights are read)", SingleName, IndexName)
	}
	if err := c.collect(); err != nil {
		return err
	}
	side, err := sideFiles(dir)
	if err != nil {
		return err
	}
	c.SideFiles = side
	return nil
}

func (c *Checkpoint) openSharded(idxPath string) error {
	st, err := os.Stat(idxPath)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if st.Size() > maxIndexSize {
		return fileError(idxPath, "index is %d bytes, more than the %d accepted", st.Size(), maxIndexSize)
	}
	data, err := os.ReadFile(idxPath)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	idx, err := ParseIndex(data, idxPath)
	if err != nil {
		return err
	}
	c.Index = idx
	for _, shard := range idx.Shards() {
		p := filepath.Join(c.Dir, shard)
		if !isFile(p) {
			return fileError(idxPath, "shard %q does not exist in %s", shard, c.Dir)
		}
		f, err := OpenFile(p)
		if err != nil {
			return err
		}
		c.Files = append(c.Files, f)
	}
	return idx.Check(c.Files, idxPath)
}

// collect fills Tensors and the name map from Files, refusing duplicate names.
func (c *Checkpoint) collect() error {
	c.byName = make(map[string]*Tensor)
	c.Tensors = c.Tensors[:0]
	for _, f := range c.Files {
		for _, t := range f.Tensors {
			if prev, dup := c.byName[t.Name]; dup {
				return fileError(f.Path, "tensor %q is also in %s", t.Name, prev.File)
			}
			c.byName[t.Name] = t
			c.Tensors = append(c.Tensors, t)
		}
	}
	return nil
}

// isFile reports whether p names a regular file (following symbolic links).
func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// isWeightFile reports whether a file name is a weight file or weight index that
// a writer replaces rather than copies.
func isWeightFile(name string) bool {
	switch {
	case name == ConfigName,
		strings.HasSuffix(name, ".safetensors"),
		strings.HasSuffix(name, ".safetensors.index.json"):
		return true
	case strings.HasPrefix(name, "pytorch_model") && (strings.HasSuffix(name, ".bin") || strings.HasSuffix(name, ".bin.index.json")),
		strings.HasPrefix(name, "tf_model") && (strings.HasSuffix(name, ".h5") || strings.HasSuffix(name, ".h5.index.json")),
		strings.HasPrefix(name, "flax_model") && (strings.HasSuffix(name, ".msgpack") || strings.HasSuffix(name, ".msgpack.index.json")):
		return true
	}
	return false
}

// sideFiles lists the regular files of dir a writer carries over, sorted:
// neither weights nor grow's own growth state, which describes the weights it
// came with and is written again only with them.
func sideFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var out []string
	for _, e := range ents {
		if isWeightFile(e.Name()) || e.Name() == GrowthStateFile || !isFile(filepath.Join(dir, e.Name())) {
			continue
		}
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, nil
}

// Tensor returns the tensor with the given name.
func (c *Checkpoint) Tensor(name string) (*Tensor, bool) { t, ok := c.byName[name]; return t, ok }

// Close closes every file.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.Files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Paths returns the files a checkpoint's data and description come from: its
// safetensors files, index, config.json and side files.
func (c *Checkpoint) Paths() []string {
	var out []string
	for _, f := range c.Files {
		out = append(out, f.Path)
	}
	if c.Dir != "" {
		for _, name := range append([]string{IndexName, ConfigName}, c.SideFiles...) {
			if p := filepath.Join(c.Dir, name); isFile(p) {
				out = append(out, p)
			}
		}
	}
	return out
}
