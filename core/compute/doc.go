// Package compute is the seam between Ladle's numerics and the hardware that runs
// them: the kernels that dominate a merge or an evaluation, as interfaces a backend
// (WebGPU in the page, package ladle/wasm/gpu) may implement, with the CPU code as the
// reference every other implementation is tested against.
//
// Invariants (each has tests):
//
//   - Merge kernels are exact or decline. A Merger either writes the CPU path's exact
//     bits or reports that it did not run (false), and the caller then runs the CPU
//     code: the merged file never depends on the backend. The CPU path accumulates in
//     float64 and rounds once (package merge's doc); WGSL has no f64, so a GPU
//     reproduces those bits with integer arithmetic (UnitSumExact, which the WGSL
//     transliterates) and flags each element it cannot prove exact (a NaN, an Inf, a
//     subnormal, a sum wider than float64's 53 bits, a subnormal or overflowing
//     result); flagged elements are recomputed on the CPU. Divisions are integer long
//     divisions, never a floating-point divide.
//
//   - Selection is integer work. KeyHistogram counts float32 key bits; a backend that
//     computes x − base in float32 must decline tensors where that subtraction could
//     be subnormal (an input below 2^-102 that is not zero) or overflow (an input
//     of 2^126 or more, or not finite).
//
//   - Forward kernels may sum in another order. A Forwarder's GEMM and convolution
//     may differ from the CPU in the last bits; evaluation then agrees with the CPU
//     up to that rounding (its tests and self-tests apply Agree's rule). NaN and
//     infinities are not a GPU's business: a backend declines layers whose inputs or
//     outputs hold them, since GPUs need not propagate them as IEEE says.
//
//   - TIES' sign election and disjoint sums are integer work too. For models weighted
//     1, TiesSumsExact computes them from the float32 deltas (a subtraction under the
//     same safety rule as KeyHistogram's) as integer sums, which equal the CPU's
//     float64 sums wherever the kept deltas span at most 53 bits; other elements are
//     flagged for the CPU. The caller finishes each element in float64 (the division
//     by the agreeing count, θ0 + λ·mixed), so no floating-point division happens
//     on a GPU. The same integer sums give task arithmetic's task-vector sum of
//     models weighted 1 (TaskSums).
//
//   - A classifier's head is computed without cancellation. A LinearHeader's
//     log_softmax runs LogSoftmaxF32's algorithm, which forms each sample's loss as a
//     sum of non-negative terms and takes log1p(t) without rounding 1 + t; its tests
//     run it with exp, log and division erring as far as WGSL allows and bound every
//     sample's loss to 1e-5 relative (or 1e-20 absolute, for losses below e⁻⁴²).
//
//   - gelu, tanh and sigmoid are fitted polynomials and WGSL's exp. An Activator
//     applies them in a layer's pass as ActF32 computes them (the shaders' WGSL is
//     written from ActF32's own tables by ActWGSL, so the two cannot drift apart);
//     its tests bound the error against the exact values, with WGSL's worst exp and
//     division, to 5 to 14 float32 ulps of the value (of the input, for gelu). relu is
//     the one activation a GPU computes exactly.
//
// What stays on the CPU, and why: weighted sums whose weights are neither all 1 nor
// all the same power of two (package merge turns those into unit sums), since their
// float64 products would need a full soft-float multiply, for a merge that is bound
// by reading its inputs anyway; TIES' sign election and task-vector sums with such
// weights (float64 sums of float32·float64 products, same reason); the masks of
// DARE, DELLA and breadcrumbs (random draws, bands) and so their sums; the SVD
// methods; and in the forward pass, pooling, an activation that does not follow a
// linear layer or a convolution, batchnorms other than one right after a convolution
// or a linear layer (which a ConvAffiner or LinearHeader applies in that layer's
// pass), softmax (probabilities: see Head) and a log_softmax that does not end a
// linear layer's head: element-wise passes that would cost a device round trip each
// for less work than the copy.
package compute
