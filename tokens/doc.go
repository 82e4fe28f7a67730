// Package tokens will hold tokenizer.json handling, new-token embedding
// initialization and scripted vocabulary extension (grow tokens).
//
// Nothing is implemented here yet; the package reserves its place in the layout.
package tokens
