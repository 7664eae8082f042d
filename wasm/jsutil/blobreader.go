//go:build js && wasm

package jsutil

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall/js"
)

// Read-ahead defaults of a BlobReaderAt.
const (
	// DefaultWindow is the least a fetch reads: a small read fetches it from its
	// offset, so that the many small reads of a header, a zip directory or a pickle
	// cost one round trip between them.
	DefaultWindow = 1 << 20
	// DefaultMaxWindow bounds the read-ahead of sequential reads: each read that
	// continues the previous one doubles the next fetch, up to this size, so that a
	// tensor read in 1 MiB chunks costs few round trips.
	DefaultMaxWindow = 8 << 20
	// DefaultCacheBytes bounds the fetched windows a reader keeps.
	DefaultCacheBytes = 16 << 20
)

// BlobReaderAt is an io.ReaderAt over a JS Blob or File. It reads only the ranges asked
// for, with blob.slice(start, end).arrayBuffer(), never the whole file. A read that the
// kept windows do not hold fetches a window from its offset: at least Window bytes,
// and, while reads follow each other, twice the previous window up to MaxWindow. The
// most recently used windows are kept up to CacheBytes. A read larger than MaxWindow
// goes straight to the Blob. Reads are serialised; it is safe for concurrent use.
//
// ReadAt awaits Promises, so it must be called from a goroutine, not from a js.FuncOf
// callback.
type BlobReaderAt struct {
	blob js.Value
	size int64
	// Window, MaxWindow and CacheBytes tune the read-ahead (the Default values); set
	// them before the first read.
	Window, MaxWindow, CacheBytes int

	mu      sync.Mutex
	windows []window  // most recently used first
	next    *prefetch // the window after the last one, being read ahead
	lastEnd int64     // where the previous read ended
	ahead   int       // the size of the next fetch if reads go on sequentially
	stats   BlobStats
}

// BlobStats count what a BlobReaderAt did.
type BlobStats struct {
	Reads      int64 // ReadAt calls
	Fetches    int64 // Blob.slice().arrayBuffer() round trips
	BytesRead  int64 // bytes returned by ReadAt
	BytesFetch int64 // bytes fetched from the Blob
}

type window struct {
	off  int64
	data []byte
}

// prefetch is a fetch started before it is needed: while reads are sequential, the
// window after the one just fetched is read by the browser while Go computes.
type prefetch struct {
	off     int64
	n       int
	promise js.Value
}

// ignore is a rejection handler for prefetches that are dropped unused.
var ignore = js.FuncOf(func(js.Value, []js.Value) any { return nil })

// NewBlobReaderAt reads a Blob or File (anything with size and slice).
func NewBlobReaderAt(blob js.Value) *BlobReaderAt {
	return &BlobReaderAt{blob: blob, size: int64(blob.Get("size").Float()),
		Window: DefaultWindow, MaxWindow: DefaultMaxWindow, CacheBytes: DefaultCacheBytes, lastEnd: -1}
}

// Size is the Blob's size in bytes.
func (r *BlobReaderAt) Size() int64 { return r.size }

// Stats reports the reads so far.
func (r *BlobReaderAt) Stats() BlobStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// ReadAt reads len(p) bytes from off; at the end of the Blob it returns fewer with io.EOF.
func (r *BlobReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("jsutil.BlobReaderAt: negative offset")
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), r.size-off))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Reads++
	if err := r.read(p[:want], off); err != nil {
		return 0, err
	}
	r.stats.BytesRead += int64(want)
	if want < len(p) {
		return want, io.EOF
	}
	return want, nil
}

func (r *BlobReaderAt) read(p []byte, off int64) error {
	sequential := off == r.lastEnd
	r.lastEnd = off + int64(len(p))
	for len(p) > 0 {
		if w, ok := r.find(off); ok {
			n := copy(p, w.data[off-w.off:])
			p, off = p[n:], off+int64(n)
			sequential = true // what follows continues this window
			continue
		}
		if sequential {
			r.ahead = min(max(r.ahead*2, r.Window), r.MaxWindow)
		} else {
			r.ahead = r.Window
		}
		if len(p) > r.MaxWindow { // large: straight into p
			n := r.MaxWindow
			if err := r.fetch(p[:n], off); err != nil {
				return err
			}
			p, off = p[n:], off+int64(n)
			sequential = true
			continue
		}
		n := int(min(int64(max(r.ahead, len(p))), r.size-off))
		w := window{off: off, data: r.buffer(n)}
		if err := r.fetch(w.data, off); err != nil {
			return err
		}
		r.windows = append([]window{w}, r.windows...)
		if sequential && r.ahead == r.MaxWindow && off+int64(n) < r.size {
			r.readAhead(off + int64(n))
		}
	}
	return nil
}

// find returns the kept window that holds off, moving it to the front.
func (r *BlobReaderAt) find(off int64) (window, bool) {
	for i, w := range r.windows {
		if off >= w.off && off < w.off+int64(len(w.data)) {
			if i > 0 {
				copy(r.windows[1:i+1], r.windows[:i])
				r.windows[0] = w
			}
			return w, true
		}
	}
	return window{}, false
}

// readAhead starts fetching the window at off, the one sequential reads need next.
func (r *BlobReaderAt) readAhead(off int64) {
	n := int(min(int64(r.MaxWindow), r.size-off))
	promise, err := r.start(off, n)
	if err != nil {
		return
	}
	promise.Call("catch", ignore)
	r.next = &prefetch{off: off, n: n, promise: promise}
}

// start begins reading the Blob's bytes [off, off+n): a Promise of an ArrayBuffer.
func (r *BlobReaderAt) start(off int64, n int) (js.Value, error) {
	return Try(func() js.Value { return r.blob.Call("slice", off, off+int64(n)).Call("arrayBuffer") })
}

// buffer returns a slice of n bytes, reusing the least recently used windows' memory
// while the kept windows exceed CacheBytes.
func (r *BlobReaderAt) buffer(n int) []byte {
	kept := n
	for _, w := range r.windows {
		kept += len(w.data)
	}
	var spare []byte
	for len(r.windows) > 0 && kept > r.CacheBytes {
		last := r.windows[len(r.windows)-1]
		r.windows = r.windows[:len(r.windows)-1]
		kept -= len(last.data)
		if cap(last.data) >= n && cap(last.data) < 2*n+r.Window {
			spare = last.data
		}
	}
	if spare != nil {
		return spare[:n]
	}
	return make([]byte, n)
}

// fetch copies the Blob's bytes [off, off+len(p)) into p: one round trip.
func (r *BlobReaderAt) fetch(p []byte, off int64) error {
	var promise js.Value
	if r.next != nil && r.next.off == off && r.next.n == len(p) {
		promise = r.next.promise
	} else {
		if r.next != nil { // read ahead in vain
			noteGarbage(r.next.n)
		}
		var err error
		if promise, err = r.start(off, len(p)); err != nil {
			return fmt.Errorf("reading bytes %d-%d: %w", off, off+int64(len(p)), err)
		}
	}
	r.next = nil
	// (FileReaderSync, where it exists, was measured slower and kept more memory.)
	buf, err := Await(promise)
	if err != nil {
		return fmt.Errorf("reading bytes %d-%d: %w (was the file changed or removed?)", off, off+int64(len(p)), err)
	}
	u := uint8Array.New(buf)
	n := js.CopyBytesToGo(p, u)
	noteGarbage(len(p))
	if n != len(p) {
		return fmt.Errorf("reading bytes %d-%d: got %d bytes: %w", off, off+int64(len(p)), n, io.ErrUnexpectedEOF)
	}
	r.stats.Fetches++
	r.stats.BytesFetch += int64(len(p))
	return nil
}
