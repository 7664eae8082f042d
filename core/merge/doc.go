// Package merge is Ladle's registry of merge methods and their per-tensor mathematics.
// METHODS.md (shared/METHODS.md in the project) is the contract; this package
// implements it and its tests check it.
//
// One registry: every method declares itself (name, summary, paper, parameters with
// type, default, range, documentation, per-model or global, base and model-count needs)
// and the UI builds its forms from All(), the recipe layer validates against the same
// declarations, and the executor runs Method.Merge once per float tensor with a Job.
//
// Invariants (each has tests):
//
//   - Arithmetic. Inputs and outputs are float32. A task vector δᵢ = θᵢ − θ0 and a
//     sparsified/rescaled delta (δ/density, δ/p) are float32 values, computed as float32
//     code computes them. Sums over models, sign votes and final combinations are
//     accumulated in float64 in recipe order and rounded to float32 once. Tensor-wide
//     reductions (norms, dot products, L1 sums) use package tensor's fixed block order.
//     So the output is bit-identical whatever Job.Workers is, and, since every product
//     that is then added is converted explicitly (forbidding FMA fusion), the same
//     natively and in wasm: the golden-output test passes unchanged under
//     GOOS=js GOARCH=wasm and under GOAMD64=v3 (which lets the compiler fuse), and
//     package tensor's TestNoFusedMultiplyAdd finds no fused instruction here for
//     amd64 v3 or arm64. Transcendentals too: slerp's and the sphere methods' sin, cos
//     and acos are tensor.Sin, tensor.Cos and tensor.Acos (package math's pure-Go code
//     is compiled with fused operations on arm64 and amd64 v3), so those methods agree
//     to the bit on every target as well.
//
//   - Determinism of random methods. DARE and DELLA draw element e of model i from
//     tensor.NewRNG(Job.Seed, Job.ModelIDs[i], Job.Tensor).Float64(e) and keep the entry
//     when the draw is below its keep probability. Nothing else is random.
//
//   - Exact selection. TIES' trim keeps exactly floor(density·numel) entries (k computed
//     in float64, as mergekit), equal magnitudes broken by lower index; breadcrumbs uses
//     the same order (its top is the k largest in that order); DELLA ranks each row by
//     ascending magnitude, equal magnitudes in ascending index order.
//
//   - SVD methods (tsv_merge, iso_c, iso_cts) work on each 2-D tensor in float64 and
//     round once. Their SVD is the package's own one-sided Jacobi (svd.go), started
//     from the eigenvectors of the Gram matrix (eigen.go), with its O(n³) steps as
//     matrix products whose every element is one chain in ascending order (gemm.go), not
//     gonum's: gonum's amd64 BLAS kernels sum in another order than its pure-Go ones,
//     so its float64 results, and now and then a rounded float32, would differ between
//     the command and the page. Components with σ ≤ 1e-6·σ_max are dropped; results
//     depend on singular subspaces only (negating any (u, v) pair changes no bit, a
//     test checks it). pcb's exp and tanh are tensor.Exp and detTanh for the same reason
//     (package math's Exp is assembly on amd64).
//
//   - Sparse soups. Exact zeros shared by every input stay exact zeros in every method's
//     output (rws_extract's optional quantisation excepted: its linear grid between min
//     and max need not contain 0; and the methods that declare Dense, which rebuild a
//     tensor from a few singular directions). With Options.Sparse == "require", differing zero
//     patterns are an error.
//
//   - Honest errors. Merge never panics: mismatched lengths, missing base, wrong model
//     counts, unknown or ill-typed parameters, values out of range, zero denominators,
//     and NaN or Inf in the output (unless Options.AllowNonFinite) all return an *Error
//     that names the method and the tensor and says what to do. Dropping entries never
//     hides a NaN or Inf input: a dropped entry is δ·0, which stays NaN.
//
// Evaluation order (what the reference implementations in the tests restate):
//
//	linear            float32(Σᵢ wᵢ·θᵢ / Σ wᵢ)           Σ in recipe order, from the first product
//	task arithmetic   float32(θ0 + λ·(Σᵢ wᵢ·δ'ᵢ / den))   den = Σw when normalize and |Σw| ≥ 1e-8, else 1
//	ties consensus    float32(θ0 + λ·(Σ agreeing uᵢ / div)), uᵢ = wᵢ·δ'ᵢ, div = Σ agreeing wᵢ (0 → 1)
//	DARE              δ' = δ / float32(density) if u < density else δ·0 (l1: float32(δ·(‖δ‖₁/‖δ_kept‖₁)))
//	DELLA             δ' = δ / float32(p) if u < p, p = (density − ε) + (2ε/(n−1))·(r−1)
//	model_stock       float32(t·(Σθᵢ/N) + (1−t)·θ0)        an |1 + (N−1)cos| < 1e-12 counts as zero
//	slerp, wise_ft    float32(s0·v0 + s1·v1)
//	SVD methods, pcb  float32(θ0 + λ·τ), τ in float64; θ0 itself where λ·τ = 0
//
// δ, δ' are float32; everything else is float64 until the final conversion.
//
// What the executor (core/plan) does around Merge:
//
//   - Integer and bool tensors are never merged: copy them from the base model (or the
//     first model when the method has no base). Other float dtypes are converted to
//     float32 before Merge and the output to out_dtype after.
//   - Parameters: resolve gradients and filters to one value per tensor; put per-model
//     values in ModelParams[i] (a per-model name in the global Params applies to models
//     that do not set it, as in mergekit); put `ladle:` settings in Options
//     (Method.ParseOptions) and the seed in Seed.
//   - A Multi parameter given as a list (wise_ft's alpha) asks for one output per value:
//     Method.Expand splits the Params; run the whole merge once per entry.
//   - ties with trim_scope: model: before merging, stream each model's deltas through a
//     tensor.GlobalTopK (two passes over the float tensors the method merges, positions
//     = checkpoint order), then pass Cuts[i] = g.Cut(pos) for each tensor. The model's
//     density must be one value for the whole model.
//   - What else a method needs it declares, and the executor runs the declaration
//     without knowing the method: a Companion parameter (fisher's `fisher:` path per
//     model) is opened, checked against its model and passed per tensor in
//     Job.Companions; Select (greedy_soup: SelectGreedy, with NeedsEval) runs a
//     whole-model selection on held-out data before streaming and merges only the
//     chosen models, in the order they joined; Layout (rws_extract) picks the tensors
//     computed and the output's form (only those tensors, as U8 codes in Job.Quant
//     plus a RangeSuffix tensor when it says CodeLevels); DecodeInput (rws_patch,
//     rws_remove) checks each model's header and gives the levels its U8-coded tensors
//     decode with; PartialModels passes only the models that hold a tensor.
package merge
