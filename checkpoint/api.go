package checkpoint

// This file holds the package's types: dtypes, tensors, checkpoints and the
// options of the writer.

import (
	"context"
	"io"
)

// DType is a safetensors dtype string such as "F32" or "BF16".
type DType string

// The dtypes grow knows. Float dtypes decode to float32/float64; the others pass through.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Tensor is one tensor of a safetensors file: its header record and a lazy handle
// on its bytes. No data is read until Bytes, Float32, Float64 or WriteTo is called.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	// File is the path of the file that holds the tensor (used in error messages).
	File string

	r      io.ReaderAt
	offset int64 // absolute offset of the data in the file
	size   int64 // data length in bytes
}

// Entry is one tensor to write: its name, dtype, shape and a function that writes
// exactly DType.Size() × Π Shape bytes of little-endian data to w.
type Entry struct {
	Name  string
	DType DType
	Shape []int
	Write func(w io.Writer) error
}

// Index is a parsed model.safetensors.index.json.
type Index struct {
	// TotalSize is metadata.total_size: the sum of all tensors' byte lengths.
	TotalSize int64
	// Metadata holds the index's metadata object as read (total_size included).
	Metadata map[string]any
	// WeightMap maps tensor names to shard file names.
	WeightMap map[string]string
}

// File is an open safetensors file whose header has been parsed and validated.
type File struct {
	Path     string
	Metadata map[string]string
	// Tensors in data-offset order.
	Tensors []*Tensor
	closer  io.Closer
	// r reads the file; headerLen is the length of its 8-byte length prefix
	// and JSON header together.
	r         io.ReaderAt
	headerLen int64
}

// Checkpoint is an open model: a directory with config.json and one or more
// safetensors files, or a bare safetensors file.
type Checkpoint struct {
	// Path is what Open was given.
	Path string
	// Dir is the model directory ("" for a bare file).
	Dir string
	// Config is the parsed config.json (nil for a bare file).
	Config *Config
	// Index is the shard index (nil when the model is one file).
	Index *Index
	// Files are the open safetensors files.
	Files []*File
	// Tensors holds every tensor of every file, in file then offset order.
	Tensors []*Tensor
	// SideFiles names the other regular files of Dir (tokenizer files,
	// generation_config.json, ...) that a writer carries over, relative to Dir.
	SideFiles []string

	byName map[string]*Tensor
}

// WriteOptions control WriteDir.
type WriteOptions struct {
	// MaxShardSize is the largest shard in bytes of tensor data (default 5e9).
	// A tensor larger than the limit gets a shard of its own.
	MaxShardSize int64
	// Metadata is added to every shard's __metadata__ besides "format": "pt".
	Metadata map[string]string
	// Config, when not nil, is written as config.json.
	Config *Config
	// SideFilesDir and SideFiles: files copied verbatim into the output.
	SideFilesDir string
	SideFiles    []string
	// Force replaces an existing target directory.
	Force bool
	// Progress, when not nil, is told about every byte written.
	Progress Progress
	// WrapWriter, when not nil, wraps every file writer (tests inject failures with it).
	WrapWriter func(io.Writer) io.Writer
	// Sync, when true, flushes every written file and the new directory to stable
	// storage before the rename, and the parent directory after it (off by
	// default for library callers; the grow command turns it on).
	Sync bool
	// ExtraFiles are small files written into the output besides the
	// weights, by name (grow's growth masks and state).
	ExtraFiles map[string][]byte
	// Sources are the files the entries read (the source checkpoint's files):
	// replacing a directory that any of them resolves into is refused.
	Sources []string
	// Logf, when not nil, is told what the writer did besides writing (the
	// removal of a temporary directory a killed run left behind).
	Logf func(format string, args ...any)
	// Context, when not nil, stops the write once it is done (a command cancels it
	// on Ctrl-C): WriteDir then removes the temporary directory and returns an
	// error wrapping Context.Err(). It is checked before every tensor, on every
	// write and between the chunks of a byte copy, not once the output is being
	// renamed into place.
	Context context.Context
}

// Progress receives progress reports from WriteDir.
type Progress interface {
	// Start is called once with the number of tensors and bytes to write.
	Start(tensors int, bytes int64)
	// Add reports n more bytes written; tensorDone is true when a tensor is complete.
	Add(n int64, tensorDone bool)
	// Finish is called once at the end, successful or not.
	Finish()
}
