// Package tokens works with a model directory's tokenizer files. It parses
// tokenizer.json (the Hugging Face tokenizers format), tokenizer_config.json
// and special_tokens_map.json far enough to refuse invalid ones with an
// error naming the file (CheckDir); encodes and decodes text as Hugging
// Face's tokenizers library does, in pure Go (Encoder: byte-level BPE with
// the GPT-2, Llama-3 and Qwen2 pre-tokenizer regexes as hand-written
// scanners, SentencePiece-style BPE with byte fallback, WordPiece); adds
// tokens to a tokenizer (Encoder.Add: into the model vocabulary with
// synthesized merges and proven reachability, or as added tokens) keeping
// tokenizer.json's bytes except where entries are appended; and plans a
// model's vocabulary extension (Extend): the new tokens, the
// initialization of their embedding and output rows by method (Method),
// and the consistent tokenizer and configuration files. docs/tokens.md
// describes it.
package tokens
