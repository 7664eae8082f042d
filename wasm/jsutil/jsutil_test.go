//go:build js && wasm

// These tests run under Node (which has Blob):
//
//	GOOS=js GOARCH=wasm go test -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasm/jsutil
//
// site/browsertest runs them so when node is installed.
package jsutil

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"syscall/js"
	"testing"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func newBlob(b []byte) js.Value {
	parts := js.Global().Get("Array").New()
	parts.Call("push", BytesToJS(b))
	return blobClass.New(parts)
}

func TestBytesRoundTrip(t *testing.T) {
	b := randomBytes(1000, 1)
	u := BytesToJS(b)
	if u.Get("length").Int() != 1000 || !bytes.Equal(BytesFromJS(u), b) || !bytes.Equal(BytesFromJS(u.Get("buffer")), b) {
		t.Fatal("bytes do not survive Go → Uint8Array → Go")
	}
	dst := make([]byte, 10)
	if n := CopyFromJS(dst, u); n != 10 || !bytes.Equal(dst, b[:10]) {
		t.Errorf("CopyFromJS: %d", n)
	}
}

func TestAwait(t *testing.T) {
	promise := js.Global().Get("Promise")
	v, err := Await(promise.Call("resolve", 42))
	if err != nil || v.Int() != 42 {
		t.Errorf("resolved: %v, %v", v, err)
	}
	_, err = Await(promise.Call("reject", js.Global().Get("TypeError").New("bad thing")))
	if err == nil || !strings.Contains(err.Error(), "bad thing") || !strings.Contains(err.Error(), "TypeError") {
		t.Errorf("rejected: %v", err)
	}
	if v, err := Await(js.ValueOf("plain")); err != nil || v.String() != "plain" {
		t.Errorf("not a promise: %v, %v", v, err)
	}
	if _, err := Try(func() js.Value { return js.Global().Call("eval", "null.x") }); err == nil {
		t.Error("Try did not catch a thrown TypeError")
	}
}

func TestBlobReaderAt(t *testing.T) {
	data := randomBytes(21<<20+12345, 2)
	r := NewBlobReaderAt(newBlob(data))
	if r.Size() != int64(len(data)) {
		t.Fatalf("size %d", r.Size())
	}
	check := func(off int64, n int) {
		t.Helper()
		p := make([]byte, n)
		got, err := r.ReadAt(p, off)
		want := int(max(0, min(int64(n), int64(len(data))-off)))
		if got != want || (want < n && err != io.EOF) || (want == n && err != nil) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d", n, off, got, err, want)
		}
		if want > 0 && !bytes.Equal(p[:got], data[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d bytes, %d): wrong bytes", n, off)
		}
	}
	// a sequential scan in 1 MiB reads that do not line up with the windows
	before := r.Stats()
	for off := int64(100); off < int64(len(data)); off += 1 << 20 {
		check(off, 1<<20)
	}
	scan := r.Stats()
	if f := scan.Fetches - before.Fetches; f > 8 {
		t.Errorf("a 21 MiB sequential scan took %d fetches", f)
	}
	// small reads of a header, near each other: one fetch
	r = NewBlobReaderAt(newBlob(data))
	for i := int64(0); i < 200; i++ {
		p := make([]byte, 8+int(i%50))
		r.ReadAt(p, i*37)
	}
	if f := r.Stats().Fetches; f != 1 {
		t.Errorf("200 small reads in the first 8 KiB took %d fetches", f)
	}
	// random reads, large reads, the end
	rnd := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 300; i++ {
		off := rnd.Int64N(int64(len(data)))
		check(off, 1+rnd.IntN(3<<20))
	}
	check(0, len(data))             // larger than MaxWindow: straight reads
	check(int64(len(data))-10, 100) // past the end: EOF
	check(int64(len(data)), 1)      // at the end
	check(int64(len(data))-1, 1)    // the last byte
	if n, err := r.ReadAt(make([]byte, 1), -1); err == nil || n != 0 {
		t.Error("a negative offset was accepted")
	}
}

func TestBlobWriter(t *testing.T) {
	data := randomBytes(FoldSize+7<<20+333, 4) // crosses a fold
	w := NewBlobWriter()
	rnd := rand.New(rand.NewPCG(5, 5))
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rnd.IntN(3<<20))
		if k, err := w.Write(rest[:n]); k != n || err != nil {
			t.Fatalf("Write: %d, %v", k, err)
		}
		rest = rest[n:]
	}
	if w.Len() != int64(len(data)) {
		t.Fatalf("Len %d", w.Len())
	}
	v, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	blob := v.(js.Value)
	if blob.Get("size").Int() != len(data) || blob.Get("type").String() != OctetStream {
		t.Fatalf("blob: %d bytes, type %q", blob.Get("size").Int(), blob.Get("type").String())
	}
	buf, err := Await(blob.Call("arrayBuffer"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(BytesFromJS(buf), data) {
		t.Fatal("the Blob does not hold the bytes written")
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("a write after Finish was accepted")
	}
	a := NewBlobWriter()
	a.Write([]byte("abc"))
	a.Abort()
	if _, err := a.Write([]byte("x")); err == nil {
		t.Error("a write after Abort was accepted")
	}
}

func TestOPFSAbsentInNode(t *testing.T) {
	if OPFSAvailable() {
		t.Skip("this runtime has the origin private file system")
	}
	if _, err := NewOPFSWriter("x"); err == nil {
		t.Error("NewOPFSWriter worked without OPFS")
	}
}
