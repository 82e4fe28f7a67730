// Package selection will hold weight selection: initializing a small model from a
// consistent subset of a large model's weights (grow shrink). The folder is named
// select, a Go keyword, so the package clause differs.
//
// Nothing is implemented here yet; the package reserves its place in the layout.
package selection
