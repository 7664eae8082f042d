// Package engine is the portable half of the playground's engine worker: the typed
// messages that the page and a Web Worker exchange, and the handling of each request
// (inspect, merge, cancel, ...) over files given as io.ReaderAt. It imports no
// syscall/js, so `go test` covers it natively; ladle/wasm/engine is a thin js&&wasm
// layer that turns postMessage data into a Request, File objects into Files
// (jsutil.BlobReaderAt) and Messages back into JS objects, with the result Blob.
//
// # Protocol
//
// The page creates the worker with `new Worker("engine.js")`; engine.js loads
// wasm_exec.js and engine.wasm. Every message is a plain object with a string `type`.
// Request ids are strings chosen by the page; every answer to a request carries its id.
// Requests may overlap (the worker handles each on its own goroutine), but a worker has
// one thread: for parallel merges, use several workers (see Splitting below).
//
// The names of the messages, and the answers the page reads, are in package wire, which
// the page program imports instead of this package (it links the whole core).
//
// Page → worker:
//
//	{type: "methods", id?}
//	{type: "inspect", id, files: [File], names?: [string]}
//	{type: "merge", id, recipe: "YAML text", files: [File], names?: [string], seed?: number|string,
//	 threads?: number, output?: number, name?: "out.safetensors",
//	 part?: {index: number, count: number}, storage?: "memory"|"opfs"|"auto"}
//	{type: "evaluate", id, files: [File], names?: [string], seed?, threads?,
//	 part?: {index: number, count: number},
//	 eval: {models?: [name], recipes?: [{name, recipe: "YAML"}], data: name,
//	        split?: "test"|"val"|NAME, arch?: "ARCH.json text"}}
//	{type: "cancel", id}            // id of the request to cancel
//	{type: "read", id, files: [File]}   // benchmark: read every tensor, compute nothing
//	{type: "memory", id?}
//	{type: "check", id, recipe: "YAML text"} // the command's recipe check, as the page's editor shows it
//
// Worker → page:
//
//	{type: "ready", wasmMemory}                 // once, when the engine can take requests
//	{type: "methods", id, methods: [MethodInfo]} // merge.Describe(), as `ladle methods --json`
//	{type: "inspected", id, models: [{name, format, metadata: {k: v},
//	   tensors: [{name, dtype, shape}], parameters, bytes}]}
//	{type: "progress", id, tensorsDone, tensorsTotal, bytesDone, bytesTotal, tensor, wasmMemory}
//	{type: "done", id, blob: Blob, name, bytes, seconds, wasmMemory, part?}
//	{type: "error", id, error: {message, file?, tensor?, where?}}
//	{type: "progress", id, modelsDone, modelsTotal, samplesDone, samplesTotal, model} // evaluate
//	{type: "evaluated", id, seconds, results: [{model, accuracy, loss, n, error?, seconds,
//	   part?: {lo, correct, losses: [number]}}]}   // part: instead of the figures
//	{type: "cancelled", id}
//	{type: "read", id, bytes, seconds}
//	{type: "memory", id, wasmMemory}
//	{type: "checked", id, recipe, message}  // "" when the recipe passes (CheckRecipe)
//
// Rules the worker keeps:
//
//   - Model names in a recipe are the names of the files sent with the request (a lab's
//     files are sent as File objects too, fetched from the page's own origin). A name
//     with folders ("models/a.safetensors") matches a file by its last element when no
//     file has the full name.
//   - A file's name is names[i] when the request gives names (one per file), else the
//     File's name. The page names the files of a chosen folder by their relative path
//     (File.webkitRelativePath, "mymodel/model-00001-of-00002.safetensors").
//   - Files named "folder/..." of which one is a *.safetensors.index.json are a sharded
//     safetensors checkpoint: a recipe names it by the folder ("mymodel", or its last
//     element, or the index's name) and the engine reads its shards through the index
//     (safetensors.OpenIndexWith). An inspect request describes such a folder as one
//     model named after the folder (format safetensors), so the page sends a folder's
//     files in one inspect request; every other file is one model, in order.
//   - Files are read by ranges (Blob.slice), never whole; nothing goes to the network.
//   - Progress is sent at most every 100 ms, and always for the last tensor.
//   - Every request ends in exactly one of: methods, inspected, done, evaluated,
//     error, cancelled, read, memory, checked. An error names the file and the tensor when one is at
//     fault (ckpt.FormatError, ckpt.UnsupportedError, ckpt.NotFoundError, plan.Error),
//     and where in the recipe (`where`) when the recipe is at fault. A panic inside the
//     core becomes an error message; the worker keeps serving.
//   - Cancel stops a merge between tensors and between chunks of a tensor; the answer is
//     "cancelled" and no result is produced. Cancelling an id that is not running does
//     nothing.
//   - The result Blob is complete when "done" arrives; a failed or cancelled merge's
//     partial output is dropped, so nothing half-written can be downloaded.
//
// # Evaluation
//
// An evaluate request reads one split of the dataset file named data (a safetensors
// file with x and y; split NAME reads x.NAME and y.NAME, "test" or "" reads x and y)
// once, then evaluates each model named in models, then merges each recipe in memory
// (as a whole merge request would, seed included) and evaluates the result under its
// name. The architecture is arch when given, else each checkpoint's ladle.arch (a
// merge keeps its reference model's). accuracy, loss and n are strings: exactly what
// `ladle eval --json` prints for the same file, split and architecture. A model that
// cannot be evaluated gets error in its row and the others are still scored; a
// dataset that cannot be read fails the request. Cancel stops between batches. To
// spread several models over the workers, the page sends each worker its share.
//
// With fewer models than workers, the page splits a model's samples over the idle
// ones (state.PlanEval): an evaluate request with part {index: i, count: k} and
// exactly one model scores the i-th of k contiguous ranges of the samples
// (eval.SplitSamples) and answers, instead of the figures, part: where its samples
// start, how many it classified right, and each sample's loss (float64, exact in
// JSON). The page joins the k answers with wire.CombineEval, which sums the losses in
// sample order as one whole evaluation does, so the strings are `ladle eval --json`'s
// bit for bit however the samples were split (a sample's output does not depend on
// the rest of its batch). Progress counts the part's samples. On a WebGPU worker the
// parts' losses carry the GPU's rounding, as a whole evaluation there does.
//
// # Splitting a merge over several workers
//
// A merge request with part {index: i, count: k} produces the i-th of k consecutive
// byte ranges of the merged file: part 0 holds the safetensors header and the data of
// the first tensors, part i the data of the i-th group of tensors. Every worker computes
// the same grouping (SplitTensors: contiguous groups of output tensors balanced by
// bytes), so the page sends the same request with i = 0..k-1 to k workers (k from
// navigator.hardwareConcurrency) and stitches the parts in index order:
// new Blob([part0, part1, ...]). The result is byte for byte the file one worker writes.
// A worker skips the reading and merging of the tensors outside its group (they are
// presented to the planner as empty integer tensors, plan.PrepareOnly, so layer
// positions, parameter gradients and per-tensor seeds are unchanged; with `slices:`
// the group is of output tensors, renamed layers of the sources). Merges that need the
// whole model at once (trim_scope: model, alignment, a selection such as greedy soup's,
// signatures) cannot be split; a part request for them fails with
// an error whose `where` is "part", and the page then runs the merge on one worker.
package engine
