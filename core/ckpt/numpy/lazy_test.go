package numpy

import (
	"archive/zip"
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

// TestOpenIsLazy checks that opening reads only headers, and that a stored
// array costs only its own bytes to read.
func TestOpenIsLazy(t *testing.T) {
	big := le64(iota64(1<<19, 0)...) // 4 MiB
	files := map[string][]byte{
		"big.npy": npy(1, dict("<i8", false, "(1024, 512)"), big),
		"big.npz": npzFile(t,
			zipEntry{"a.npy", npy(1, dict("<i8", false, "(1024, 512)"), big), zip.Store},
			zipEntry{"b.npy", npy(1, dict("<i8", false, "(1024, 512)"), big), zip.Deflate},
			zipEntry{"c.npy", npy(1, dict("<i8", false, "(4,)"), le64(1, 2, 3, 4)), zip.Store}),
	}
	for name, b := range files {
		cr := &countingReader{r: bytes.NewReader(b)}
		open := OpenNPY
		if name == "big.npz" {
			open = OpenNPZ
		}
		rd, err := open(cr, int64(len(b)), name)
		if err != nil {
			t.Fatal(err)
		}
		opened := cr.bytes.Load()
		// The zip directory search reads up to 1 KiB from the end, and deflate
		// reads ahead in 4 KiB blocks; everything else is headers.
		if opened > 16<<10 {
			t.Errorf("%s: Open read %d bytes of %d", name, opened, len(b))
		}
		t.Logf("%s: Open read %d of %d bytes", name, opened, len(b))
		first := rd.Tensors()[0].Name
		r, err := rd.Tensor(first)
		if err != nil {
			t.Fatal(err)
		}
		if got := cr.bytes.Load(); got != opened {
			t.Errorf("%s: Tensor read %d bytes before its reader was used", name, got-opened)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
		if got := cr.bytes.Load() - opened; got != int64(len(big)) {
			t.Errorf("%s: reading %s read %d bytes for %d", name, first, got, len(big))
		}
	}
}
