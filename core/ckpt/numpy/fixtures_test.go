package numpy

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/pytorch"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

// The candle fixtures, as Python's zipfile and struct read them: test.npy is
// {'descr': '<i8', 'fortran_order': False, 'shape': (10,)} holding 0..9 (format
// 1.0, a 118-byte header); test.npz stores (no compression, zip64 extras) x.npy,
// the same array, then x_plus_one.npy holding 1..10.

func TestFixtureNPY(t *testing.T) {
	b := fixture(t, "candle/test.npy")
	rd, err := OpenNPY(bytes.NewReader(b), int64(len(b)), "test.npy")
	if err != nil {
		t.Fatal(err)
	}
	if rd.Format() != "npy" || len(rd.Metadata()) != 0 {
		t.Errorf("format %q, metadata %v", rd.Format(), rd.Metadata())
	}
	want := []ckpt.Info{{Name: "arr_0", DType: dtype.I64, Shape: []int64{10}}}
	if !reflect.DeepEqual(rd.Tensors(), want) {
		t.Fatalf("tensors %v, want %v", rd.Tensors(), want)
	}
	if got := readTensor(t, rd, "arr_0"); !bytes.Equal(got, le64(iota64(10, 0)...)) {
		t.Errorf("arr_0 = %v", got)
	}
	// A stored little-endian array is a window on the file at byte 128.
	r, _ := rd.Tensor("arr_0")
	if _, off, n := r.Outer(); off != 128 || n != 80 {
		t.Errorf("window at %d+%d, want 128+80", off, n)
	}
}

func TestFixtureNPZ(t *testing.T) {
	b := fixture(t, "candle/test.npz")
	rd, err := OpenNPZ(bytes.NewReader(b), int64(len(b)), "test.npz")
	if err != nil {
		t.Fatal(err)
	}
	if rd.Format() != "npz" || len(rd.Metadata()) != 0 {
		t.Errorf("format %q, metadata %v", rd.Format(), rd.Metadata())
	}
	want := []ckpt.Info{
		{Name: "x", DType: dtype.I64, Shape: []int64{10}},
		{Name: "x_plus_one", DType: dtype.I64, Shape: []int64{10}},
	}
	if !reflect.DeepEqual(rd.Tensors(), want) {
		t.Fatalf("tensors %v, want %v", rd.Tensors(), want)
	}
	if got := readTensor(t, rd, "x"); !bytes.Equal(got, le64(iota64(10, 0)...)) {
		t.Errorf("x = %v", got)
	}
	if got := readTensor(t, rd, "x_plus_one"); !bytes.Equal(got, le64(iota64(10, 1)...)) {
		t.Errorf("x_plus_one = %v", got)
	}
	// x.npy's data starts after the 30-byte local header, its 5-byte name, a
	// 20-byte zip64 extra field and the 128-byte .npy preamble and header.
	r, _ := rd.Tensor("x")
	if outer, off, _ := r.Outer(); off != 30+5+20+128 || outer == nil {
		t.Errorf("x is not a window at byte 183 of the file (%d)", off)
	}
	if _, err := rd.Tensor("y"); err == nil {
		t.Error("a missing name gives no error")
	} else if _, ok := err.(*ckpt.NotFoundError); !ok {
		t.Errorf("missing name: %T %v", err, err)
	}
}

// TestOpenSniffsNumpy opens the fixtures through ckpt.Open, which must pick
// this package by the files' bytes.
func TestOpenSniffsNumpy(t *testing.T) {
	for file, format := range map[string]string{"candle/test.npy": "npy", "candle/test.npz": "npz"} {
		src, err := ckpt.Open(ckpttest.Fixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if src.Format() != format {
			t.Errorf("%s: format %q, want %q", file, src.Format(), format)
		}
		src.Close()
	}
}

// TestSniffersAreDisjoint runs every zip-claiming sniffer over every fixture:
// no file may be claimed by two formats, numpy's files must be claimed by
// numpy and torch's zips by pytorch.
func TestSniffersAreDisjoint(t *testing.T) {
	dir := ckpttest.FixturesDir(t)
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	sniffers := map[string]func([]byte, int64) bool{
		"npy": SniffNPY, "npz": SniffNPZ, "pytorch": pytorch.Sniff, "safetensors": safetensors.Sniff,
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, ckpt.SniffLen)
		n, _ := io.ReadFull(f, head)
		fi, _ := f.Stat()
		f.Close()
		var claims []string
		for name, sniff := range sniffers {
			if sniff(head[:n], fi.Size()) {
				claims = append(claims, name)
			}
		}
		if len(claims) > 1 {
			t.Errorf("%s is claimed by %v", p, claims)
		}
		want := map[string]string{".npy": "npy", ".npz": "npz", ".pt": "pytorch", ".pth": "pytorch"}[filepath.Ext(p)]
		if want != "" && (len(claims) != 1 || claims[0] != want) && !(want == "pytorch" && len(claims) == 0) {
			t.Errorf("%s is claimed by %v, want %s", p, claims, want)
		}
	}
}
