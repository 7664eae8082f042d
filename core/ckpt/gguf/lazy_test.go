package gguf

import (
	"bytes"
	"io"
	"sync/atomic"
	"testing"
)

// countingReader counts the bytes asked of it.
type countingReader struct {
	r     io.ReaderAt
	bytes atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

func TestOpenIsLazy(t *testing.T) {
	big := make([]byte, 4<<20)
	b := newBuilder().kv("general.architecture", tString, gstr("llama")).
		kv("scores", tArray, arr(tFloat32, 100000, make([]byte, 400000))).
		tensor("w", []uint64{1024, 1024}, 0, big).tensor("v", []uint64{4}, 0, f32s(1, 2, 3, 4)).bytes()
	cr := &countingReader{r: bytes.NewReader(b)}
	rd, err := Open(cr, int64(len(b)), "big.gguf")
	if err != nil {
		t.Fatal(err)
	}
	// The header is 400 KB of skipped floats around a few hundred bytes.
	opened := cr.bytes.Load()
	if opened > 16<<10 {
		t.Errorf("Open read %d bytes of a %d-byte file", opened, len(b))
	}
	r, err := rd.Tensor("w")
	if err != nil {
		t.Fatal(err)
	}
	if got := cr.bytes.Load(); got != opened {
		t.Errorf("Tensor read %d bytes before its reader was used", got-opened)
	}
	io.Copy(io.Discard, r)
	if got := cr.bytes.Load() - opened; got != int64(len(big)) {
		t.Errorf("reading w read %d bytes for %d", got, len(big))
	}

	if fixturesIfPresent() == "" {
		return
	}
	fb := fixture(t)
	cr = &countingReader{r: bytes.NewReader(fb)}
	if _, err := Open(cr, int64(len(fb)), "tiny.gguf"); err != nil {
		t.Fatal(err)
	}
	// The vocabulary's strings are read, and its scores and types skipped;
	// read-ahead may pass the header's end by at most one buffer.
	t.Logf("Open read %d bytes of the %d-byte fixture, whose header is 724398 bytes", cr.bytes.Load(), len(fb))
	if n := cr.bytes.Load(); n > 724398+maxChunk {
		t.Errorf("Open read %d bytes of the fixture", n)
	}
}
