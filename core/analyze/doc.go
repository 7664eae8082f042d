// Package analyze measures task vectors: how fine-tunes of one base model relate to
// each other before they are merged (`ladle analyze` and the page's Analysis view).
//
// For a base θ0 and models θ1..θm, the task vectors are δi = θi − θ0 over the floating
// tensors that the base and every model share (same name, same shape; a tensor missing
// anywhere, or stored as integers anywhere, is left out). Everything is computed in
// float64 from the exactly decoded stored values.
//
//   - Cosine[i][j] = Σ δi·δj / (‖δi‖ ‖δj‖) over all those tensors; 0 when either norm is 0.
//   - Per tensor, Norms[i] = ‖δi‖₂ of that tensor.
//   - Per tensor, SignConflict is the fraction of its elements whose nonzero δ entries do
//     not all share one sign (at least one positive and one negative).
//   - Per tensor, TiesAgree[i]: TIES (METHODS.md, steps 1 to 3, weights 1) trims each δi
//     to its k = ⌊density·numel⌋ entries of largest |δ| (equal magnitudes: lower index
//     first) and elects the sign s = +1 where Σ trimmed δ ≥ 0, else −1. TiesAgree[i] is,
//     of the nonzero entries of δi that the trim keeps, the fraction whose sign is s; 0
//     when it keeps none. (A zero entry has no sign and TIES never counts it as agreeing.)
//
// Invariants:
//
//   - Streaming: one tensor of each input is held at a time, so memory is about
//     (models + 1) × the largest tensor in float64, never whole models.
//   - Determinism: sums run in a fixed order (tensors in the base's file order, elements
//     in index order) and products are rounded before they are added (no fused
//     multiply-add), so the native command and the page's WebAssembly engine print the
//     same digits.
//   - Errors name the file and the tensor: a tensor of the same name shaped differently
//     is an error, not a silent skip.
package analyze
