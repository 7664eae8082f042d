package pytorch

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
	b := readFixture(t, "burn-mnist", "run-a.pt")
	cr := &countingReader{r: bytes.NewReader(b)}
	src, err := Open(cr, int64(len(b)), "run-a.pt")
	if err != nil {
		t.Fatal(err)
	}
	opened := cr.bytes.Load()
	// The pickle is 1781 bytes and the zip directory about 2 KiB; the file is 1.5 MB.
	if opened > 32<<10 || opened*40 > int64(len(b)) {
		t.Fatalf("Open read %d bytes of a %d-byte file", opened, len(b))
	}
	t.Logf("Open read %d of %d bytes", opened, len(b))

	r, err := src.Tensor("fc1.weight")
	if err != nil {
		t.Fatal(err)
	}
	if got := cr.bytes.Load(); got != opened {
		t.Fatalf("Tensor read %d bytes before its reader was used", got-opened)
	}
	if r.Size() != 32*11616*4 {
		t.Fatalf("fc1.weight reader has %d bytes", r.Size())
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	read := cr.bytes.Load() - opened
	if read < r.Size() || read > r.Size()+64<<10 {
		t.Fatalf("reading fc1.weight read %d bytes for %d bytes of data", read, r.Size())
	}
	// A small tensor costs only its own bytes.
	before := cr.bytes.Load()
	if _, err := src.Tensor("conv1.bias"); err != nil {
		t.Fatal(err)
	}
	readTensor(t, src, "conv1.bias")
	if got := cr.bytes.Load() - before; got != 8*4 {
		t.Fatalf("reading conv1.bias read %d bytes, want 32", got)
	}
}

// TestDirectWindow checks that a stored contiguous tensor is a window on the
// caller's reader (no copy), and that readers are independent.
func TestDirectWindow(t *testing.T) {
	b := readFixture(t, "burn-mnist", "run-a.pt")
	rd := bytes.NewReader(b)
	src, err := Open(rd, int64(len(b)), "run-a.pt")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := src.Tensor("conv1.weight")
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := src.Tensor("conv1.weight")
	all := make([]byte, r1.Size())
	if _, err := r1.ReadAt(all, 0); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 8)
	if _, err := r2.ReadAt(part, 16); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part, all[16:24]) {
		t.Fatal("two readers of one tensor disagree")
	}
	outer, off, n := r1.Outer()
	if outer != io.ReaderAt(rd) || n != r1.Size() || !bytes.Equal(b[off:off+n], all) {
		t.Fatal("a stored contiguous tensor is not a window on the caller's reader")
	}
}

// TestLegacyIsLazy checks that opening a legacy file, whose storages follow
// its pickles, reads little beyond the pickles.
func TestLegacyIsLazy(t *testing.T) {
	big := make([]byte, 4<<20)
	tensors := []synth{{name: "w", class: "FloatStorage", key: "0", numel: len(big) / 4, shape: []int{1024, 1024}, stride: []int{1024, 1}}}
	b := legacyFile(statePickle(tensors, true), []string{"0"}, map[string][]byte{"0": big}, map[string]int{"0": 4})
	cr := &countingReader{r: bytes.NewReader(b)}
	src, err := Open(cr, int64(len(b)), "legacy.pt")
	if err != nil {
		t.Fatal(err)
	}
	if n := cr.bytes.Load(); n > 8<<10 {
		t.Fatalf("Open read %d bytes of a %d-byte file", n, len(b))
	}
	if got := readTensor(t, src, "w"); len(got) != len(big) {
		t.Fatalf("read %d bytes", len(got))
	}
}
