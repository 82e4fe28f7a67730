// Package learngene extracts a compact "learngene" from a trained model and
// expands it into models of any depth, after two learngene papers:
//
//   - TLEG, "Transformer as Linear Expansion of Learngene" (Xia et al., AAAI
//     2024, arXiv 2312.05614): every block parameter is linear in depth,
//     θ_i = θ_A + (i/L)·θ_B for block i = 0 … L−1 of a model of L blocks (the
//     released code's 0-based position; the paper writes (l−1)/L with l
//     counted from 1, the same factor). Extract fits θ_A and θ_B to a trained
//     model's blocks by least squares over depth, tensor by tensor, and
//     reports how well the line fits (R²).
//   - SWS, "Exploring Learngene via Stage-wise Weight Sharing" (Xia et al.,
//     IJCAI 2024): the blocks fall into stages that share one block each; a
//     descendant repeats stage blocks by a layer-source list
//     (non-decreasing, every stage used).
//
// A gene is an ordinary checkpoint directory whose blocks are the gene's
// (TLEG: block 0 is θ_A, block 1 is θ_B; SWS: block s is stage s), with the
// model's other tensors (embeddings, final norm, head) as they are, plus a
// small JSON manifest (ManifestFile). Extraction and expansion are both
// transform plans whose layer maps combine or copy blocks (transform.LayerSource),
// so the engine writes them as it writes every operator's output. Neither
// preserves a function: the result is NON-PRESERVING, a starting point.
package learngene
