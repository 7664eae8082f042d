// Package lora reads PEFT LoRA adapters, applies them to their base checkpoint as
// it is streamed, and extracts adapters from fine-tunes by truncated SVD.
//
// An adapter is a folder as PEFT's save_pretrained writes it: adapter_config.json
// (r, lora_alpha, use_rslora, fan_in_fan_out, rank_pattern, alpha_pattern) and
// adapter_model.safetensors (or adapter_model.bin, read through package ckpt's
// PyTorch reader), holding pairs base_model.model.M.lora_A.weight [r, in] and
// base_model.model.M.lora_B.weight [out, r]. A recipe names a base with an adapter
// as BASE+DIR, mergekit's syntax; Opener resolves such names.
//
// Invariants (each has tests):
//
//   - Exact application. Apply's source shows the base's tensors, with each adapted
//     W = M.weight replaced by W' = W + s·(B·A) (s = lora_alpha/r, or lora_alpha/√r
//     with use_rslora; (B·A)ᵀ when fan_in_fan_out stores W as [in, out]). Every
//     element is float32(float64(W) + s·Σk float64(B[i,k]·A[k,j])): products rounded
//     to float64, summed in k order, one rounding at the end, so the bytes do not
//     depend on the platform, the read pattern or the number of readers. Adapted
//     tensors are shown as F32 whatever W's dtype, so the adapter reaches the merge
//     unrounded.
//   - Streaming. An adapted tensor is computed on demand for the byte range a
//     reader asks for, from the same range of W and the (small) A and B, so
//     applying an adapter adds about (in + out)·r float64s per tensor being read to
//     a merge's memory, never a dense copy of B·A or of the model.
//   - Honest errors. The pairs in the file decide what changes (target_modules is
//     not consulted). A key that is not a lora_A/lora_B weight (lora_embedding_*,
//     lora_magnitude_vector of DoRA, biases, modules_to_save), a pair without its
//     partner, a module the base lacks, a rank or shape that disagrees with the
//     config or with W: each is an error naming the folder, the key and what to do,
//     found when the adapter is opened, before any tensor data is read.
//   - Extraction. Extract writes, per 2-D float tensor that changed, the rank-r
//     truncated SVD of θft − θ0 computed in float64 with gonum: B = Ur·diag(Sr),
//     A = Vrᵀ, lora_alpha = r (scale 1), so ‖δ − BA‖F is the Eckart–Young bound
//     (Σj>r σj²)^½, and reports it relative to ‖δ‖F per tensor. The folder appears
//     whole or not at all.
package lora
