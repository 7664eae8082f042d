//go:build js && wasm

// Command engine is the playground's engine worker: a dedicated Web Worker that runs
// the merging core, so that the page thread only renders (DESIGN invariant 5). It is
// built to engine.wasm and started by engine.js:
//
//	const worker = new Worker("engine.js");
//	worker.onmessage = (e) => { const m = e.data; ... };   // first {type: "ready"}
//	worker.postMessage({type: "inspect", id: "1", files: [...input.files]});
//	worker.postMessage({type: "merge", id: "2", recipe: yamlText, files: [...input.files]});
//	worker.postMessage({type: "cancel", id: "2"});
//
// The protocol is documented in package ladle/ui/engine, which handles the requests;
// this package only converts between JS values and that package's types:
//
//   - files: Blob or File objects (a Blob without a name is called file0, file1, ...),
//     read by ranges through jsutil.BlobReaderAt;
//   - seed: a number, or a string of digits for seeds above 2^53;
//   - ids: strings (a number is converted with String());
//   - answers: the JSON of ui/engine's message types, as plain objects, with `blob` (a
//     Blob, or a File of the origin private file system) added to "done";
//   - results: jsutil.BlobWriter, or jsutil.OPFSWriter when storage is "opfs", or
//     "auto"/absent and the result is 128 MiB or more and the worker has OPFS.
//
// engine.js queues the messages that arrive before Go has started (in self.ladleQueue)
// and exposes the wasm memory's size as self.ladleWasmMemory(), which progress and
// done messages report as wasmMemory.
package main
