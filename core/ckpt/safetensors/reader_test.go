package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/dtype"
)

func openFile(t *testing.T, path string) *Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(b), int64(len(b)), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return r
}

func tensorBytes(t *testing.T, src ckpt.Source, name string) []byte {
	t.Helper()
	b, err := ckpt.ReadAll(src, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The samples of the safetensors repository hold arange(-3, 3) in each dtype (the
// unsigned ones wrap), with __metadata__ {"test": "a"}.
func TestReferenceSamples(t *testing.T) {
	dir := ckpttest.Fixture(t, "safetensors-samples")
	want := map[string]struct {
		dt   dtype.DType
		data []byte
	}{
		"B": {dtype.U8, []byte{253, 254, 255, 0, 1, 2}},
		"b": {dtype.I8, []byte{253, 254, 255, 0, 1, 2}},
		"H": {dtype.U16, le16(0xfffd, 0xfffe, 0xffff, 0, 1, 2)},
		"h": {dtype.I16, le16(0xfffd, 0xfffe, 0xffff, 0, 1, 2)},
		"I": {dtype.U32, le32(0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1, 2)},
		"i": {dtype.I32, le32(0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1, 2)},
		"e": {dtype.F16, le16(0xc200, 0xc000, 0xbc00, 0, 0x3c00, 0x4000)},
		"f": {dtype.F32, le32(f32bits(-3, -2, -1, 0, 1, 2)...)},
		"d": {dtype.F64, le64(f64bits(-3, -2, -1, 0, 1, 2)...)},
	}
	check := func(t *testing.T, r *Reader, name string) {
		w := want[name]
		info, ok := ckpt.Lookup(r, name)
		if !ok {
			t.Fatalf("no tensor %q", name)
		}
		if info.DType != w.dt || !reflect.DeepEqual(info.Shape, []int64{6}) {
			t.Errorf("%s: got %s%v, want %s[6]", name, info.DType, info.Shape, w.dt)
		}
		if got := tensorBytes(t, r, name); !bytes.Equal(got, w.data) {
			t.Errorf("%s: data %x, want %x", name, got, w.data)
		}
	}
	for name := range want {
		r := openFile(t, filepath.Join(dir, name+".safetensors"))
		if len(r.Tensors()) != 1 {
			t.Errorf("%s: %d tensors, want 1", name, len(r.Tensors()))
		}
		if r.Metadata()["test"] != "a" {
			t.Errorf("%s: metadata %v", name, r.Metadata())
		}
		check(t, r, name)
	}
	overall := openFile(t, filepath.Join(dir, "overall.safetensors"))
	var names []string
	for _, info := range overall.Tensors() {
		names = append(names, info.Name)
		check(t, overall, info.Name)
	}
	if want := []string{"B", "H", "I", "b", "d", "e", "f", "h", "i"}; !reflect.DeepEqual(names, want) {
		t.Errorf("overall lists %v, want %v (file order)", names, want)
	}
}

func TestBurnMNISTSafetensors(t *testing.T) {
	r := openFile(t, ckpttest.Fixture(t, "burn-mnist/run-c.safetensors"))
	if n := len(r.Tensors()); n != 20 {
		t.Fatalf("%d tensors, want 20", n)
	}
	info, _ := ckpt.Lookup(r, "fc1.weight")
	if info.DType != dtype.F32 || !reflect.DeepEqual(info.Shape, []int64{32, 11616}) {
		t.Errorf("fc1.weight is %s%v", info.DType, info.Shape)
	}
	// Values read off the file with an independent decoder (Python's struct).
	b := tensorBytes(t, r, "conv1.weight")
	if got := math.Float32frombits(binary.LittleEndian.Uint32(b)); got != 0.1658172607421875 {
		t.Errorf("conv1.weight[0] = %v", got)
	}
	b = tensorBytes(t, r, "norm2.running_var")
	if got := math.Float32frombits(binary.LittleEndian.Uint32(b)); got != 54.63916778564453 {
		t.Errorf("norm2.running_var[0] = %v", got)
	}
	info, _ = ckpt.Lookup(r, "norm1.num_batches_tracked")
	if info.DType != dtype.I64 || len(info.Shape) != 0 {
		t.Errorf("num_batches_tracked is %s%v, want an I64 scalar", info.DType, info.Shape)
	}
	if got := binary.LittleEndian.Uint64(tensorBytes(t, r, "norm1.num_batches_tracked")); got != 7504 {
		t.Errorf("num_batches_tracked = %d, want 7504", got)
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// Opening a large file must read its header and nothing else.
func TestOpenReadsOnlyTheHeader(t *testing.T) {
	const numel = 8 << 20 // 32 MiB of F32 per tensor
	tensors := []ckpt.Info{
		{Name: "a", DType: dtype.F32, Shape: []int64{numel}},
		{Name: "b", DType: dtype.F32, Shape: []int64{numel / 2, 2}},
	}
	header, err := EncodeHeader(tensors, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	size := 8 + int64(len(header)) + 2*numel*4
	file := &sparseFile{header: append(le64(uint64(len(header))), header...), size: size}
	c := &countingReaderAt{r: file}
	r, err := Open(c, size, "big.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.n.Load(), int64(8+len(header)); got != want {
		t.Errorf("Open read %d bytes, want exactly the %d of the header", got, want)
	}
	if len(r.Tensors()) != 2 || r.Metadata()["k"] != "v" {
		t.Errorf("tensors %v metadata %v", r.Tensors(), r.Metadata())
	}
	sec, _ := r.Tensor("b")
	buf := make([]byte, 16)
	before := c.n.Load()
	if _, err := sec.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if got := c.n.Load() - before; got != 16 {
		t.Errorf("reading 16 bytes of a tensor read %d bytes of the file", got)
	}
}

// sparseFile is a file made of a header followed by zeros, without the zeros in memory.
type sparseFile struct {
	header []byte
	size   int64
}

func (f *sparseFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off+int64(n) < f.size {
		at := off + int64(n)
		if at < int64(len(f.header)) {
			p[n] = f.header[at]
		} else {
			p[n] = 0
		}
		n++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestNotFound(t *testing.T) {
	file := mustWrite(t, []ckpt.Info{{Name: "x", DType: dtype.F32, Shape: []int64{1}}}, nil, [][]byte{make([]byte, 4)})
	r, err := Open(bytes.NewReader(file), int64(len(file)), "m.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Tensor("y")
	var nf *ckpt.NotFoundError
	if !errors.As(err, &nf) || nf.Tensor != "y" {
		t.Errorf("Tensor(y) = %v, want a NotFoundError naming y", err)
	}
}

func le16(v ...uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func le32(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func le64(v ...uint64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}

func f32bits(v ...float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

func f64bits(v ...float64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = math.Float64bits(x)
	}
	return out
}

// burn's multi-layer test file: values read off the file with Python's struct.
func TestBurnMultiLayerSafetensors(t *testing.T) {
	r := openFile(t, ckpttest.Fixture(t, "pytorch/burn-multi_layer.safetensors"))
	want := map[string][]int64{"norm1.num_batches_tracked": {}, "conv1.bias": {4}, "conv1.weight": {4, 3, 3, 3}, "fc1.bias": {16},
		"fc1.weight": {16, 256}, "norm1.bias": {4}, "norm1.running_mean": {4}, "norm1.running_var": {4}, "norm1.weight": {4}}
	if len(r.Tensors()) != len(want) {
		t.Fatalf("%d tensors, want %d", len(r.Tensors()), len(want))
	}
	for _, info := range r.Tensors() {
		if shape, ok := want[info.Name]; !ok || !reflect.DeepEqual(info.Shape, shape) {
			t.Errorf("%s%v is unexpected", info.Name, info.Shape)
		}
	}
	first := func(name string) float32 {
		return math.Float32frombits(binary.LittleEndian.Uint32(tensorBytes(t, r, name)))
	}
	if got := first("conv1.weight"); got != 0.09916245192289352 {
		t.Errorf("conv1.weight[0] = %v", got)
	}
	if got := first("norm1.running_var"); got != 0.9008812308311462 {
		t.Errorf("norm1.running_var[0] = %v", got)
	}
	if got := binary.LittleEndian.Uint64(tensorBytes(t, r, "norm1.num_batches_tracked")); got != 1 {
		t.Errorf("num_batches_tracked = %d", got)
	}
}
