package numpy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

func TestFormatVersions(t *testing.T) {
	data := le64(iota64(6, 0)...)
	for _, major := range []byte{1, 2, 3} {
		rd := mustOpen(t, npy(major, dict("<i8", false, "(2, 3)"), data))
		want := []ckpt.Info{{Name: NPYName, DType: dtype.I64, Shape: []int64{2, 3}}}
		if !reflect.DeepEqual(rd.Tensors(), want) {
			t.Errorf("version %d: %v", major, rd.Tensors())
		}
		if got := readTensor(t, rd, NPYName); !bytes.Equal(got, data) {
			t.Errorf("version %d: data %v", major, got)
		}
	}
}

func TestElementTypes(t *testing.T) {
	cases := []struct {
		descr string
		dt    dtype.DType
	}{
		{"<f2", dtype.F16}, {"<f4", dtype.F32}, {"<f8", dtype.F64},
		{"|i1", dtype.I8}, {"<i2", dtype.I16}, {"<i4", dtype.I32}, {"<i8", dtype.I64},
		{"|u1", dtype.U8}, {"<u2", dtype.U16}, {"<u4", dtype.U32}, {"<u8", dtype.U64},
		{"|b1", dtype.BOOL}, {"<u1", dtype.U8}, {">i1", dtype.I8},
	}
	for _, c := range cases {
		data := make([]byte, 3*c.dt.Size())
		for i := range data {
			data[i] = byte(i % 2) // valid bools, and distinct bytes for the rest
		}
		rd := mustOpen(t, npy(1, dict(c.descr, false, "(3,)"), data))
		if got := rd.Tensors()[0].DType; got != c.dt {
			t.Errorf("%s: dtype %s, want %s", c.descr, got, c.dt)
		}
		if got := readTensor(t, rd, NPYName); !bytes.Equal(got, data) {
			t.Errorf("%s: data changed", c.descr)
		}
	}
}

func TestBigEndianIsSwapped(t *testing.T) {
	vals := []float32{1.5, -2, float32(math.Pi)}
	var be, le []byte
	for _, v := range vals {
		be = binary.BigEndian.AppendUint32(be, math.Float32bits(v))
		le = binary.LittleEndian.AppendUint32(le, math.Float32bits(v))
	}
	rd := mustOpen(t, npy(1, dict(">f4", false, "(3,)"), be))
	if rd.Tensors()[0].DType != dtype.F32 {
		t.Fatalf("dtype %s", rd.Tensors()[0].DType)
	}
	if got := readTensor(t, rd, NPYName); !bytes.Equal(got, le) {
		t.Errorf(">f4 read as %v, want %v", got, le)
	}
	rd = mustOpen(t, npy(1, dict(">i8", false, "(2, 2)"), be64(1, -2, 3, -4)))
	if got := readTensor(t, rd, NPYName); !bytes.Equal(got, le64(1, -2, 3, -4)) {
		t.Errorf(">i8 read as %v", got)
	}
	h := dtype.F32ToF16(0.25)
	rd = mustOpen(t, npy(1, dict(">f2", false, "()"), []byte{byte(h >> 8), byte(h)}))
	if got := readTensor(t, rd, NPYName); !bytes.Equal(got, []byte{byte(h), byte(h >> 8)}) {
		t.Errorf(">f2 scalar read as %v", got)
	}
}

// fortranData returns the values 0..n-1 of a C-ordered array of shape, laid
// out in Fortran (column-major) order, as int64s.
func fortranData(shape []int64) []int64 {
	n := ckpt.NumElements(shape)
	out := make([]int64, n)
	idx := make([]int64, len(shape))
	for c := int64(0); c < n; c++ { // c is the C-order index, idx its multi-index
		f, stride := int64(0), int64(1)
		for d := range shape {
			f += idx[d] * stride
			stride *= shape[d]
		}
		out[f] = c
		for d := len(shape) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

func TestFortranOrderIsMaterialised(t *testing.T) {
	for _, shape := range [][]int64{{2, 3}, {2, 3, 4}, {3, 1, 2}, {1, 5}, {4}, {2, 1, 1, 3}} {
		f := fortranData(shape)
		lit := "("
		for _, d := range shape {
			lit += string(rune('0'+d)) + ", "
		}
		lit += ")"
		rd := mustOpen(t, npy(1, dict("<i8", true, lit), le64(f...)))
		if !reflect.DeepEqual(rd.Tensors()[0].Shape, shape) {
			t.Fatalf("shape %v", rd.Tensors()[0].Shape)
		}
		if got := readTensor(t, rd, NPYName); !bytes.Equal(got, le64(iota64(len(f), 0)...)) {
			t.Errorf("Fortran %v read as %v", shape, got)
		}
		// Big-endian and Fortran at once, inside a deflated .npz.
		var be []byte
		for _, v := range f {
			be = binary.BigEndian.AppendUint64(be, uint64(v))
		}
		z := npzFile(t, zipEntry{"a.npy", npy(1, dict(">i8", true, lit), be), zip.Deflate})
		rd = mustOpen(t, z)
		if got := readTensor(t, rd, "a"); !bytes.Equal(got, le64(iota64(len(f), 0)...)) {
			t.Errorf("big-endian Fortran %v in a deflated npz read as %v", shape, got)
		}
	}
}

func TestDeflatedNPZ(t *testing.T) {
	x := npy(1, dict("<f4", false, "(2, 2)"), le32f(1, 2, 3, 4))
	y := npy(2, dict("<i8", false, "(3,)"), le64(7, 8, 9))
	z := npzFile(t, zipEntry{"x.npy", x, zip.Deflate}, zipEntry{"sub/y.npy", y, zip.Store})
	rd := mustOpen(t, z)
	want := []ckpt.Info{
		{Name: "x", DType: dtype.F32, Shape: []int64{2, 2}},
		{Name: "sub/y", DType: dtype.I64, Shape: []int64{3}},
	}
	if !reflect.DeepEqual(rd.Tensors(), want) {
		t.Fatalf("tensors %v", rd.Tensors())
	}
	if got := readTensor(t, rd, "x"); !bytes.Equal(got, le32f(1, 2, 3, 4)) {
		t.Errorf("x = %v", got)
	}
	if got := readTensor(t, rd, "sub/y"); !bytes.Equal(got, le64(7, 8, 9)) {
		t.Errorf("sub/y = %v", got)
	}
	// Readers are independent: reading one twice, or both at once, agrees.
	r1, _ := rd.Tensor("x")
	r2, _ := rd.Tensor("x")
	a, b := make([]byte, 8), make([]byte, 8)
	r1.ReadAt(a, 4)
	r2.ReadAt(b, 4)
	if !bytes.Equal(a, b) || !bytes.Equal(a, le32f(2, 3)) {
		t.Errorf("independent readers disagree: %v %v", a, b)
	}
}

func le32f(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestScalarsEmptyAndOddHeaders(t *testing.T) {
	cases := []struct {
		dict  string
		data  []byte
		shape []int64
	}{
		{dict("<i8", false, "()"), le64(42), []int64{}},
		{dict("<i8", false, "(0, 3)"), nil, []int64{0, 3}},
		{dict("<i8", true, "(3, 0)"), nil, []int64{3, 0}},
		// Python 2 wrote longs with an L; keys may come in any order and quote style.
		{`{"shape": (2L,), "fortran_order": False, "descr": "<i8"}`, le64(1, 2), []int64{2}},
		{`{'descr':'<i8','fortran_order':False,'shape':(1,2)}`, le64(1, 2), []int64{1, 2}},
	}
	for _, c := range cases {
		rd := mustOpen(t, npy(1, c.dict, c.data))
		if got := rd.Tensors()[0].Shape; !reflect.DeepEqual(got, c.shape) {
			t.Errorf("%s: shape %v, want %v", c.dict, got, c.shape)
		}
		if got := readTensor(t, rd, NPYName); !bytes.Equal(got, c.data) && len(got)+len(c.data) > 0 {
			t.Errorf("%s: data %v", c.dict, got)
		}
	}
	// Bytes after the data are ignored, as numpy ignores them.
	rd := mustOpen(t, npy(1, dict("<i8", false, "(1,)"), le64(5, 6)))
	if got := readTensor(t, rd, NPYName); !bytes.Equal(got, le64(5)) {
		t.Errorf("trailing bytes: %v", got)
	}
}

func TestNPZSkipsOtherFiles(t *testing.T) {
	z := npzFile(t,
		zipEntry{"w.npy", npy(1, dict("<i8", false, "(1,)"), le64(1)), zip.Store},
		zipEntry{"dir/", nil, zip.Store},
		zipEntry{"notes.txt", []byte("hello"), zip.Deflate})
	rd := mustOpen(t, z)
	if len(rd.Tensors()) != 1 || rd.Tensors()[0].Name != "w" {
		t.Errorf("tensors %v", rd.Tensors())
	}
	if got := rd.Metadata()["npz.skipped_entries"]; got != `["notes.txt"]` {
		t.Errorf("skipped entries %q", got)
	}
	// An empty archive (np.savez with no arrays) holds no tensors.
	rd = mustOpen(t, npzFile(t))
	if len(rd.Tensors()) != 0 {
		t.Errorf("empty archive: %v", rd.Tensors())
	}
}
