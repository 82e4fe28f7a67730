// Package interop holds grow's interoperability tests: Python tests (test_*.py, run with
// pytest) that load every checkpoint the real grow binary writes with Hugging Face's own
// libraries (safetensors, transformers, tokenizers, torch) and compare their outputs with
// grow's. TestInterop runs them from `go test ./...` when a Python with those packages is
// available (GROW_PYTHON, or the virtualenv that `bash .ci/run` installs at
// ~/.cache/grow/venv) and skips them with a message saying so otherwise.
//
// grow itself is pure Go; Python is used only here.
package interop
