package checkpoint_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/grow-ml/grow/checkpoint"
)

// Open reads and validates the headers of a model directory; tensor data is read
// only when asked for.
func ExampleOpen() {
	c, err := checkpoint.Open("../testdata/stories260k")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Config.ModelType, len(c.Files), "file,", len(c.Tensors), "tensors")
	t, _ := c.Tensor("model.embed_tokens.weight")
	fmt.Println(t.DType, t.Shape, t.ByteSize(), "bytes")
	v, err := t.Float32()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(v), "values")
	fmt.Println(c.SideFiles[1:])
	// Output:
	// llama 1 file, 47 tensors
	// F32 [512 64] 131072 bytes
	// 32768 values
	// [generation_config.json special_tokens_map.json tokenizer.json tokenizer.model tokenizer_config.json]
}

// WriteDir writes a converted copy: here every float tensor as BF16, in shards of
// at most 300 kB, with config.json and the tokenizer files carried over.
func ExampleWriteDir() {
	c, err := checkpoint.Open("../testdata/stories260k")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var entries []checkpoint.Entry
	for _, t := range c.Tensors {
		entries = append(entries, checkpoint.ConvertEntry(t, t.Name, checkpoint.BF16))
	}
	tmp, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "stories260k-bf16")
	err = checkpoint.WriteDir(out, entries, checkpoint.WriteOptions{
		MaxShardSize: 300_000,
		Config:       c.Config,
		SideFilesDir: c.Dir,
		SideFiles:    c.SideFiles,
	})
	if err != nil {
		log.Fatal(err)
	}
	names, _ := os.ReadDir(out)
	for _, n := range names {
		fmt.Println(n.Name())
	}
	// Output:
	// PROVENANCE.md
	// config.json
	// generation_config.json
	// model-00001-of-00002.safetensors
	// model-00002-of-00002.safetensors
	// model.safetensors.index.json
	// special_tokens_map.json
	// tokenizer.json
	// tokenizer.model
	// tokenizer_config.json
}
