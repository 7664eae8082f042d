//go:build js && wasm

package jsutil

import (
	"errors"
	"syscall/js"
)

// Sizes of a BlobWriter.
const (
	// ChunkSize is the size of the Uint8Arrays a BlobWriter pushes.
	ChunkSize = 4 << 20
	// FoldSize: every FoldSize bytes, the pending parts are folded into one Blob, which
	// moves them into the browser's blob storage.
	FoldSize = 64 << 20
)

// OctetStream is the MIME type of results.
const OctetStream = "application/octet-stream"

var blobClass = js.Global().Get("Blob")

// BlobWriter is an io.Writer that collects its bytes as Blob parts: it copies them, in
// chunks of ChunkSize, into Uint8Arrays pushed to a JS array, folds those into a Blob
// every FoldSize bytes, and Finish makes the final Blob. Only one chunk is ever held in
// Go memory.
type BlobWriter struct {
	Type    string // the Blob's MIME type (OctetStream by default)
	buf     []byte
	parts   js.Value // a JS array of Uint8Array and Blob
	pending int64    // bytes in Uint8Array parts since the last fold
	n       int64
	done    bool
}

// NewBlobWriter makes an empty BlobWriter.
func NewBlobWriter() *BlobWriter {
	return &BlobWriter{Type: OctetStream, parts: js.Global().Get("Array").New()}
}

// Len is how many bytes were written.
func (w *BlobWriter) Len() int64 { return w.n }

// Write copies p into the pending chunk, pushing full chunks as Uint8Arrays.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("jsutil.BlobWriter: write after Finish or Abort")
	}
	total := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, ChunkSize)
		}
		n := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:n]...)
		p = p[n:]
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
	}
	w.n += int64(total)
	return total, nil
}

func (w *BlobWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	w.parts.Call("push", BytesToJS(w.buf))
	w.pending += int64(len(w.buf))
	noteGarbage(len(w.buf))
	w.buf = w.buf[:0]
	if w.pending >= FoldSize {
		folded := w.makeBlob()
		w.parts = js.Global().Get("Array").New()
		w.parts.Call("push", folded)
		w.pending = 0
	}
}

func (w *BlobWriter) makeBlob() js.Value {
	opts := js.Global().Get("Object").New()
	opts.Set("type", w.Type)
	return blobClass.New(w.parts, opts)
}

// Blob pushes what is pending and returns the whole output as one Blob. The writer
// takes no more writes.
func (w *BlobWriter) Blob() js.Value {
	w.flush()
	w.done = true
	w.buf = nil
	b := w.makeBlob()
	w.parts = js.Null()
	return b
}

// Finish is Blob for engine.Output.
func (w *BlobWriter) Finish() (any, error) { return w.Blob(), nil }

// Abort drops the parts.
func (w *BlobWriter) Abort() {
	w.done = true
	w.buf = nil
	w.parts = js.Null()
}
