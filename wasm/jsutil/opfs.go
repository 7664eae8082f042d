//go:build js && wasm

package jsutil

import (
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"time"
)

// OPFSPrefix starts the names of the result files an OPFSWriter creates.
const OPFSPrefix = "ladle-result-"

// OPFSAvailable reports whether this global scope can write files of the origin private
// file system synchronously: navigator.storage.getDirectory and
// FileSystemSyncAccessHandle exist only in secure contexts, and the latter only in
// workers.
func OPFSAvailable() bool {
	g := js.Global()
	nav := g.Get("navigator")
	if nav.IsUndefined() || nav.Get("storage").IsUndefined() || nav.Get("storage").Get("getDirectory").IsUndefined() {
		return false
	}
	fh := g.Get("FileSystemFileHandle")
	return !fh.IsUndefined() && !fh.Get("prototype").Get("createSyncAccessHandle").IsUndefined()
}

// OPFSWriter writes an output into a file of the origin private file system through a
// FileSystemSyncAccessHandle; Finish returns the file as a File (a Blob whose bytes
// are on disk, not in memory).
type OPFSWriter struct {
	dir, handle, access js.Value
	name                string
	buf                 []byte
	at                  int64
	done                bool
	opts                js.Value
}

// NewOPFSWriter creates (or truncates) the file OPFSPrefix+name in the origin private
// file system's root. Call it from a goroutine of a worker.
func NewOPFSWriter(name string) (*OPFSWriter, error) {
	if !OPFSAvailable() {
		return nil, errors.New("the origin private file system is not available here")
	}
	dir, err := Await(js.Global().Get("navigator").Get("storage").Call("getDirectory"))
	if err != nil {
		return nil, fmt.Errorf("opening the origin private file system: %w", err)
	}
	name = OPFSPrefix + name
	opts := js.Global().Get("Object").New()
	opts.Set("create", true)
	handle, err := Await(dir.Call("getFileHandle", name, opts))
	if err != nil {
		return nil, fmt.Errorf("creating %s in the origin private file system: %w", name, err)
	}
	access, err := Await(handle.Call("createSyncAccessHandle"))
	if err != nil {
		return nil, fmt.Errorf("opening %s for writing: %w", name, err)
	}
	if _, err := Try(func() js.Value { return access.Call("truncate", 0) }); err != nil {
		access.Call("close")
		return nil, err
	}
	return &OPFSWriter{dir: dir, handle: handle, access: access, name: name, opts: js.Global().Get("Object").New()}, nil
}

// Write buffers p and writes full chunks to the file.
func (w *OPFSWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("jsutil.OPFSWriter: write after Finish or Abort")
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
			if err := w.flush(); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

func (w *OPFSWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	u := BytesToJS(w.buf)
	w.opts.Set("at", w.at)
	v, err := Try(func() js.Value { return w.access.Call("write", u, w.opts) })
	if err != nil {
		return fmt.Errorf("writing %s: %w (is the disk full?)", w.name, err)
	}
	if n := int64(v.Float()); n != int64(len(w.buf)) {
		return fmt.Errorf("writing %s: wrote %d of %d bytes (is the disk full?)", w.name, n, len(w.buf))
	}
	w.at += int64(len(w.buf))
	noteGarbage(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Finish flushes and closes the file and returns it as a File.
func (w *OPFSWriter) Finish() (any, error) {
	if err := w.flush(); err != nil {
		w.Abort()
		return nil, err
	}
	w.done = true
	w.buf = nil
	if _, err := Try(func() js.Value { w.access.Call("flush"); w.access.Call("close"); return js.Undefined() }); err != nil {
		return nil, err
	}
	f, err := Await(w.handle.Call("getFile"))
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Abort closes and removes the file.
func (w *OPFSWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.buf = nil
	Try(func() js.Value { return w.access.Call("close") })
	Try(func() js.Value { return w.dir.Call("removeEntry", w.name) }) // the promise may settle later
}

// CleanOPFS removes result files older than age from the origin private file system,
// so that results that were downloaded (or forgotten) do not pile up. Errors (a file
// still open elsewhere) are ignored.
func CleanOPFS(age time.Duration) {
	if !OPFSAvailable() {
		return
	}
	dir, err := Await(js.Global().Get("navigator").Get("storage").Call("getDirectory"))
	if err != nil {
		return
	}
	it := dir.Call("entries")
	now := float64(time.Now().UnixMilli())
	for {
		next, err := Await(it.Call("next"))
		if err != nil || next.Get("done").Truthy() {
			return
		}
		entry := next.Get("value")
		name, handle := entry.Index(0).String(), entry.Index(1)
		if !strings.HasPrefix(name, OPFSPrefix) || handle.Get("kind").String() != "file" {
			continue
		}
		f, err := Await(handle.Call("getFile"))
		if err != nil {
			continue
		}
		if now-f.Get("lastModified").Float() > float64(age.Milliseconds()) {
			Await(dir.Call("removeEntry", name))
		}
	}
}
