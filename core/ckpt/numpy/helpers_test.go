package numpy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
)

// npy builds a .npy array of the given format version from a header dict
// literal and data, padding the header with spaces and a newline to a multiple
// of 64 bytes, as numpy does.
func npy(major byte, dict string, data []byte) []byte {
	lenBytes := 2
	if major >= 2 {
		lenBytes = 4
	}
	pre := 8 + lenBytes
	hdr := dict
	for (pre+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := append([]byte(magic), major, 0)
	if lenBytes == 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	}
	b = append(b, hdr...)
	return append(b, data...)
}

// dict writes the header literal numpy writes.
func dict(descr string, fortran bool, shape string) string {
	f := "False"
	if fortran {
		f = "True"
	}
	return fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, f, shape)
}

// zipEntry is one member of a test archive.
type zipEntry struct {
	name   string
	data   []byte
	method uint16
}

// npzFile builds a zip archive of the entries, as np.savez (zip.Store) or
// np.savez_compressed (zip.Deflate) does.
func npzFile(tb testing.TB, entries ...zipEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// A stand-in for an exotic compression method, to test that it is refused.
	zw.RegisterCompressor(12, func(w io.Writer) (io.WriteCloser, error) { return nopCloser{w}, nil })
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// le64 and be64 encode int64s; le32f and be32f float32s given as bits.
func le64(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func be64(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func iota64(n int, from int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = from + int64(i)
	}
	return v
}

// openAny opens b as .npz when it starts like a zip, else as .npy.
func openAny(b []byte, path string) (*Reader, error) {
	if bytes.HasPrefix(b, []byte("PK")) {
		return OpenNPZ(bytes.NewReader(b), int64(len(b)), path)
	}
	return OpenNPY(bytes.NewReader(b), int64(len(b)), path)
}

func mustOpen(t *testing.T, b []byte) *Reader {
	t.Helper()
	rd, err := openAny(b, "test")
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func readTensor(t *testing.T, src ckpt.Source, name string) []byte {
	t.Helper()
	b, err := ckpt.ReadAll(src, name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return b
}

// checkTyped fails unless err is one of ckpt's error types.
func checkTyped(t *testing.T, err error) {
	t.Helper()
	var fe *ckpt.FormatError
	var ue *ckpt.UnsupportedError
	var ne *ckpt.NotFoundError
	if !errors.As(err, &fe) && !errors.As(err, &ue) && !errors.As(err, &ne) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// fixture reads a file of the shared fixtures, skipping when they are absent.
func fixture(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(ckpttest.Fixture(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixturesIfPresent returns the fixtures folder, or "" without skipping (for fuzz seeds).
func fixturesIfPresent() string {
	dir := os.Getenv("LADLE_FIXTURES")
	if dir == "" {
		root, err := ckpttest.RepoRoot()
		if err != nil {
			return ""
		}
		dir = filepath.Join(root, "..", "shared", "fixtures")
	}
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
