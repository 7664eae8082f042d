// Package plan is Ladle's merge executor: it turns a parsed recipe into a checked Plan
// (Prepare) and streams the merge into a checkpoint Sink (Execute).
//
// Invariants (each has tests):
//
//   - Validation first. Prepare checks the method, every parameter (name, type, range),
//     the base model, the model count, that every file opens, and that every model holds
//     the same tensors with the same shapes, before any tensor data is read. Errors name
//     the recipe key or the file and the tensor.
//   - Streaming. Execute merges one tensor at a time, reading it from each input when it
//     is needed, so peak memory is about (inputs + 1) × the largest tensor in float32
//     plus I/O buffers, whatever the size of the checkpoints. Buffers are reused from
//     tensor to tensor.
//   - Determinism. The output bytes depend only on the recipe, the inputs and the seed:
//     not on the number of threads (each tensor is split into ranges whose results do not
//     depend on the split; reductions use fixed-order float64 sums), not on the order of
//     tensors inside non-base inputs, and not on the platform (native or wasm). Random
//     methods draw from the counter-based generator of package tensor.
//   - Integer and bool tensors are copied from the base (or first) model byte for byte.
//   - Output order is the base's (or first model's) tensor order; floating-point tensors
//     take out_dtype, else their dtype in the base.
//   - No method by name. What a method needs beyond one Merge per float tensor it
//     declares in the registry (merge.Method): companion checkpoints per model
//     (Param.Companion), a choice of tensors and output form (Layout), models that
//     hold U8 codes (DecodeInput), partial models, a whole-model selection (Select).
//     This package runs what is declared; a test fails if any registered method's
//     name appears in its source.
//   - Slices (mergekit's `slices:`, slices.go): each slice is planned on its own over
//     renamed views of its sources' layer ranges, and the slices' outputs are written
//     one after the other (pre, layers, post) into the same sink.
//   - Whole-model steps are the exception to streaming, for the small models an
//     evaluator can run: a method's selection (Method.Select with NeedsEval;
//     ladle.eval gives the arch and the held-out data, checked by Prepare before any
//     tensor is read) scores whole models to choose its ingredients, and the alignment step (SetAlign, the
//     recipe's `ladle: {align: true}`) permutes every model to the reference with
//     eval.Align and substitutes in-memory copies. Preprocess runs both before the
//     streaming merge (Execute runs it when the caller did not); the output is then
//     streamed as usual, and Metadata records what the steps found.
//   - Cancellation through the context is honoured between tensors and between chunks;
//     a cancelled or failed Execute returns an error and the caller discards the sink
//     (native: the temporary file is removed).
//   - Overlap. With more than one thread, a merged tensor is written to the sink by a
//     goroutine of its own while the next one merges (two output buffers), and the
//     reader unmaps the inputs of a merged tensor before mapping the next: the bytes and
//     their order do not change, only when they are written.
//   - Inputs that change under the merge. Float32 inputs are read in place through
//     read-only memory maps; the file's size is checked when it is mapped, and a file
//     truncated afterwards makes the merge fail with a *ckpt.FormatError naming the
//     file and the tensor (the methods run under debug.SetPanicOnFault and the fault
//     address picks the mapping), never a SIGBUS crash.
//   - Threads are capped at MaxThreads, whatever the options or the recipe ask.
package plan
