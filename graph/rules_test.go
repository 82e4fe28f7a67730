package graph

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// familyTest matches code that tests which family a model is.
var familyTest = regexp.MustCompile(`graph\.Family[A-Z]|== *"(llama|gpt2|bert|mistral|qwen2|qwen3|phi3|gemma|gpt_neox|opt|olmo2)"|case +"(llama|gpt2|bert|mistral|qwen2|qwen3|phi3|gemma|gpt_neox|opt|olmo2)"|ModelType *==`)

// Outside graph/ no code (tests aside) names a family constant or compares a
// model_type: it reads the family's features from its descriptor.
func TestNoFamilyTestsOutsideGraph(t *testing.T) {
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == filepath.Join(root, "graph") || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if familyTest.MatchString(line) {
				t.Errorf("%s:%d tests a family: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
