// Package tensor holds the float32 kernels and the deterministic helpers that Ladle's
// merge methods share: shape arithmetic, reductions, a counter-based random generator,
// exact top-k selection (per tensor and over a whole model), linear quantisation and
// portable transcendental functions.
//
// It is portable Go (no cgo, no syscall/js, no assembly): the same source runs natively
// and as js/wasm, and must give the same bits on both.
//
// Invariants (each has tests):
//
//   - Fixed-order reductions. Dot, SumSq, Norm, Sum and GramDiff accumulate in float64 in
//     an order that depends only on the length of the input: the input is cut into blocks
//     of Block (4096) elements; inside a block, element j goes to lane j%4, the lanes are
//     combined as (l0+l1)+(l2+l3); the block partials are added in block order to a
//     running total that starts at 0. BlockReduce computes the blocks on any number of
//     goroutines and still adds the partials in block order, so results are bit-identical
//     whatever the caller's parallelism. Products of two float32 values are exact in
//     float64, so fused multiply-add on some CPUs cannot change these sums either.
//
//   - Counter-based randomness. RNG draws are a pure function of (seed, model, tensor
//     name, element index); see RNG for the exact construction, which is a stable
//     contract: the same inputs give the same values on every platform, forever.
//
//   - The magnitude order. Selection ranks elements by the key AbsKey(x) (the float32
//     bits without the sign: for finite values and ±Inf it orders exactly like |x|; NaN
//     sorts above +Inf). "The k largest" means the first k of the order
//     (key descending, index ascending): among equal magnitudes the LOWER index wins.
//     A Cut describes such a set exactly and a Bound tests membership per element with no
//     state, so masks can be evaluated in parallel. Ranker gives ascending ranks
//     (key ascending, index ascending: among equal magnitudes the lower index gets the
//     lower rank).
//
//   - No hidden state, no per-element allocation, no interfaces or closures in inner
//     loops (BlockReduce calls its function once per 4096-element block).
//
//   - Fusion safety. Go may fuse x*y+z into one FMA on some CPUs (arm64, ppc64, s390x,
//     amd64 with GOAMD64=v3), which would change bits between native and wasm. Every
//     product that is then added is written float64(x*y) or float32(x*y): an explicit
//     conversion forbids the fusion. TestNoFusedMultiplyAdd (nofma_test.go) holds this
//     for all of ladle/core/...: it compiles it for amd64 v3 and arm64 and fails on
//     any fused instruction outside its short allowlist (dotBlock and sumSqBlock, whose
//     float32 products are exact in float64, and compute's float32 GPU references).
//     Package math's pure-Go functions (Erf, Tanh, Sin, Log, Exp off amd64 …) do fuse
//     on arm64 and amd64 v3, and its Exp and Log are assembly on amd64: paths that
//     promise bits use this package's portable Exp, Sin, Cos, Acos, Erf and Tanh
//     (fdlibm's and Cephes' algorithms, every product rounded, each within 1 ulp; a
//     sha256 golden of each holds natively and under js/wasm) or their own
//     portable code, and TestNoMathTranscendentals finds any other use in
//     ladle/core/... outside its allowlist of fast-mode helpers.
package tensor
