// Package tokens reads a model directory's tokenizer files: it parses
// tokenizer.json (the Hugging Face tokenizers format), tokenizer_config.json
// and special_tokens_map.json (transformers' tokenizer configuration) far
// enough to refuse invalid ones with an error naming the file, and reads the
// id → token vocabulary for display. New-token embedding initialization and
// scripted vocabulary extension (grow tokens) will live here too.
package tokens
