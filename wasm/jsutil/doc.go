//go:build js && wasm

// Package jsutil holds the small bridges between Go and the browser that the engine
// worker (and later the page) need: awaiting a JS Promise from a goroutine, copying
// between Go byte slices and Uint8Arrays, reading a Blob or File by ranges
// (BlobReaderAt) and collecting output as Blob parts (BlobWriter) or in a file of the
// origin private file system (OPFSWriter).
//
// Await blocks the calling goroutine, not the JS event loop: it must not be called from
// a js.FuncOf callback itself (that goroutine is the event loop's, and the Promise could
// never settle); call it from a goroutine the callback started.
//
// Where outputs live. A merged checkpoint is never one Go slice: BlobWriter copies it in
// 4 MiB chunks into Uint8Arrays and, every 64 MiB, folds the pending parts into one Blob,
// so the bytes move into the browser's blob storage (outside the wasm heap and the JS
// heap, and paged to disk by Chrome when blobs grow large) and the Uint8Arrays can be
// collected. OPFSWriter writes the bytes through a FileSystemSyncAccessHandle (workers
// only) into a file of the origin private file system and returns that file as the
// result Blob: the data is on disk, so outputs near or above the tab's memory fit. The
// engine picks OPFS for results of 128 MiB and more when the browser has it ("auto"),
// and memory otherwise; a request can ask for either.
//
// Memory. A js.Value keeps its JS object alive until Go's collector finalizes it, and a
// merge's Go heap hardly grows (its buffers are reused), so the ArrayBuffer of every
// read and the Uint8Array of every output chunk would stay in the tab until the merge
// ends (measured: 1.9 GB of renderer memory for a 1.2 GB merge). The readers and
// writers count the JS bytes they make and run Go's collector every 48 MiB, which
// releases those Values (measured: under 300 MB for the same merge).
package jsutil
