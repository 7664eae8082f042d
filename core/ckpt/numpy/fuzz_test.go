package numpy

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"ladle/core/ckpt"
)

func FuzzOpen(f *testing.F) {
	if dir := fixturesIfPresent(); dir != "" {
		for _, p := range []string{"candle/test.npy", "candle/test.npz"} {
			if b, err := os.ReadFile(filepath.Join(dir, p)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add(npy(1, dict("<f4", false, "(2, 3)"), make([]byte, 24)))
	f.Add(npy(2, dict(">i8", true, "(2, 2)"), be64(1, 2, 3, 4)))
	f.Add(npy(3, dict("|b1", false, "()"), []byte{1}))
	f.Add(npy(1, `{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1L,)}`, nil))
	f.Add(npzFile(f, zipEntry{"x.npy", npy(1, dict("<f2", true, "(3, 2)"), make([]byte, 12)), zip.Deflate},
		zipEntry{"y.npy", npy(1, dict(">u4", false, "(2,)"), make([]byte, 8)), zip.Store}))
	f.Add(npzFile(f, zipEntry{"x.npy", npy(1, dict("<i8", false, "(2,)"), le64(1, 2)), zip.Store}))
	// Deflated arrays are inflated as they are read: big-endian ones swapped on the way.
	f.Add(npzFile(f, zipEntry{"x.npy", npy(1, dict(">i8", false, "(3,)"), be64(1, 2, 3)), zip.Deflate},
		zipEntry{"y.npy", npy(2, dict("<f2", false, "(5,)"), make([]byte, 10)), zip.Deflate}))

	f.Fuzz(func(t *testing.T, b []byte) {
		// Both openers see every input: each must fail cleanly or give
		// tensors that read back whole (or fail cleanly, for corrupt deflate).
		for _, open := range []func() (*Reader, error){
			func() (*Reader, error) { return OpenNPY(bytes.NewReader(b), int64(len(b)), "fuzz.npy") },
			func() (*Reader, error) { return OpenNPZ(bytes.NewReader(b), int64(len(b)), "fuzz.npz") },
		} {
			rd, err := open()
			if err != nil {
				checkTyped(t, err)
				continue
			}
			for _, info := range rd.Tensors() {
				if info.Bytes() < 0 || !info.DType.Valid() {
					t.Fatalf("%s: %s %v", info.Name, info.DType, info.Shape)
				}
				data, err := ckpt.ReadAll(rd, info.Name)
				if err != nil {
					checkTyped(t, err)
					if a := rd.arrays[info.Name]; a.zf == nil {
						t.Fatalf("a stored array that opened fails to read: %v", err)
					}
					continue
				}
				if int64(len(data)) != info.Bytes() {
					t.Fatalf("%s: %d bytes, want %d", info.Name, len(data), info.Bytes())
				}
				// Reads of odd sizes, backwards from the end, give the same bytes.
				r, _ := rd.Tensor(info.Name)
				for end, k := int64(len(data)), 0; end > 0 && k < 64; end, k = end-5, k+1 {
					start := max(0, end-5)
					part := make([]byte, end-start)
					if _, err := r.ReadAt(part, start); err != nil || !bytes.Equal(part, data[start:end]) {
						t.Fatalf("%s: ReadAt(%d, %d) = %v, %v; want %v", info.Name, end-start, start, part, err, data[start:end])
					}
				}
			}
		}
	})
}
