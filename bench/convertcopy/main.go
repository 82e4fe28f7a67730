// Command convertcopy is the read → write path of `grow convert` without the
// weight graph: checkpoint.Open, then checkpoint.WriteDir with CopyEntry (or
// ConvertEntry with -dtype). bench/convert.sh uses it when the grow binary's
// convert command is not available, and to separate I/O cost from graph cost.
package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/grow-ml/grow/checkpoint"
)

func main() {
	out := flag.String("o", "", "output directory")
	dtype := flag.String("dtype", "", "convert float tensors to this dtype (default: keep)")
	shard := flag.String("max-shard-size", "5GB", "largest shard")
	force := flag.Bool("force", false, "replace an existing output")
	verify := flag.Bool("verify", false, "instead of writing, check that every tensor of the model in -o equals the source's (SHA-256)")
	flag.Bool("quiet", true, "accepted for compatibility with grow convert (convertcopy never prints progress)")
	// Accept the model before or after the flags, like `grow convert MODEL -o OUT`.
	var model string
	args := os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		model, args = args[0], args[1:]
	}
	if err := flag.CommandLine.Parse(args); err != nil {
		log.Fatal(err)
	}
	if model == "" && flag.NArg() == 1 {
		model = flag.Arg(0)
	}
	if model == "" || *out == "" {
		log.Fatal("usage: convertcopy MODEL -o OUT [-dtype bf16] [-max-shard-size 5GB]")
	}
	maxShard, err := checkpoint.ParseSize(*shard)
	if err != nil {
		log.Fatal(err)
	}
	c, err := checkpoint.Open(model)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if *verify {
		if err := verifyCopy(c, *out); err != nil {
			log.Fatal(err)
		}
		return
	}
	var es []checkpoint.Entry
	for _, t := range c.Tensors {
		switch {
		case *dtype == "" || !t.DType.IsFloat():
			es = append(es, checkpoint.CopyEntry(t))
		default:
			dt, err := checkpoint.ParseDType(*dtype)
			if err != nil {
				log.Fatal(err)
			}
			es = append(es, checkpoint.ConvertEntry(t, t.Name, dt))
		}
	}
	err = checkpoint.WriteDir(*out, es, checkpoint.WriteOptions{
		MaxShardSize: maxShard, Config: c.Config, SideFilesDir: c.Dir, SideFiles: c.SideFiles, Force: *force,
	})
	if err != nil {
		log.Fatal(err)
	}
}

// verifyCopy checks that the model in dir has the same tensors as c, byte for byte.
func verifyCopy(c *checkpoint.Checkpoint, dir string) error {
	d, err := checkpoint.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if len(d.Tensors) != len(c.Tensors) {
		return fmt.Errorf("verify: %s has %d tensors, the source %d", dir, len(d.Tensors), len(c.Tensors))
	}
	for _, t := range c.Tensors {
		u, ok := d.Tensor(t.Name)
		if !ok {
			return fmt.Errorf("verify: %s lacks tensor %q", dir, t.Name)
		}
		a, b := sha256.New(), sha256.New()
		if _, err := t.WriteTo(a); err != nil {
			return err
		}
		if _, err := u.WriteTo(b); err != nil {
			return err
		}
		if !bytes.Equal(a.Sum(nil), b.Sum(nil)) || t.DType != u.DType {
			return fmt.Errorf("verify: tensor %q differs", t.Name)
		}
	}
	return nil
}
