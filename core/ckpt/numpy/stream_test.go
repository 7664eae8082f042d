package numpy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"ladle/core/ckpt"
)

// bigDeflated is an .npz whose one array, of n float32 zeros but for a marker at
// each MiB, deflates to a sliver of its size: the shape of a 1 GiB array in a 1 MB
// file, made small enough for a test. want is the array as Tensor must give it
// (little-endian).
func bigDeflated(t testing.TB, n int, descr string) (file, want []byte) {
	data := make([]byte, 4*n)
	for i := 0; i < n; i += 1 << 18 {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(i))
	}
	file = npzFile(t, zipEntry{"big.npy", npy(1, dict(descr, false, "("+itoa(n)+",)"), data), zip.Deflate})
	if descr[0] == '>' {
		swapBytes(data, 4)
	}
	return file, data
}

func itoa(n int) string { return strconv.Itoa(n) }

// A deflated array is inflated as it is read, not into memory: reading a 64 MiB
// array in order allocates a few hundred KiB, where it used to allocate the whole
// array (and up to twice that while growing the buffer).
func TestDeflatedArrayStreams(t *testing.T) {
	const n = 16 << 20 // 64 MiB of float32
	for _, descr := range []string{"<f4", ">f4"} {
		z, want := bigDeflated(t, n, descr)
		t.Logf("%s: %d MiB array in a %d KiB file", descr, 4*n>>20, len(z)>>10)
		rd := mustOpen(t, z)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r, err := rd.Tensor("big")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20+3) // odd-sized reads: element boundaries fall inside them
		var got int64
		for off := int64(0); ; {
			k, err := r.ReadAt(buf, off)
			if !bytes.Equal(buf[:k], want[off:off+int64(k)]) {
				t.Fatalf("%s: bytes at %d differ", descr, off)
			}
			off += int64(k)
			got += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if got != 4*n {
			t.Fatalf("%s: read %d bytes of %d", descr, got, 4*n)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("%s: reading the %d MiB array allocated %d MiB", descr, 4*n>>20, alloc>>20)
		}
	}
}

// Parallel readers of parts of one deflated array, each moving forward, agree with
// a plain read, and reads out of order still give the right bytes.
func TestDeflatedArrayRandomAccess(t *testing.T) {
	const n = 1 << 20
	z, _ := bigDeflated(t, n, ">f4")
	rd := mustOpen(t, z)
	whole := readTensor(t, rd, "big")
	r, _ := rd.Tensor("big")
	if !ckpt.IsSequential(r) || !ckpt.IsSequential(io.NewSectionReader(r, 4, 8)) {
		t.Error("a deflated array's reader does not say it is sequential")
	}
	if stored, _ := mustOpen(t, npzFile(t, zipEntry{"a.npy", npy(1, dict("<i8", false, "(1,)"), le64(1)), zip.Store})).Tensor("a"); ckpt.IsSequential(stored) {
		t.Error("a stored array's reader says it is sequential")
	}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo, hi := int64(w)*4*n/6, int64(w+1)*4*n/6
			buf := make([]byte, 4093)
			for off := lo; off < hi; off += int64(len(buf)) {
				b := buf[:min(int64(len(buf)), hi-off)]
				if _, err := r.ReadAt(b, off); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(b, whole[off:off+int64(len(b))]) {
					t.Errorf("worker %d: bytes at %d differ", w, off)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, off := range []int64{4*n - 7, 5, 4 * n / 2, 1, 0} {
		b := make([]byte, 7)
		k, err := r.ReadAt(b, off)
		want := whole[off:min(off+7, 4*n)]
		if k != len(want) || !bytes.Equal(b[:k], want) || (k < 7 && err != io.EOF) {
			t.Errorf("ReadAt(7, %d) = %d, %v: %v want %v", off, k, err, b[:k], want)
		}
	}
}
