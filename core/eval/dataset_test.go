package eval

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

func TestDatasetRoundTrip(t *testing.T) {
	train := &Dataset{Shape: []int{2, 3}, U8: []uint8{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}, Labels: []int{1, 0}}
	val := &Dataset{Split: "val", Shape: []int{2, 3}, F32: []float32{0.5, -1, 2, 3, 4, 5}, Labels: []int{7}, Classes: []string{"a", "b"}}
	path := filepath.Join(t.TempDir(), "d.safetensors")
	if err := WriteFile(path, train, val); err != nil {
		t.Fatal(err)
	}
	src, err := ckpt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if s := Splits(src); !reflect.DeepEqual(s, []string{"", "val"}) {
		t.Errorf("splits %q", s)
	}
	for _, want := range []*Dataset{train, val} {
		got, err := LoadSplit(path, want.Split)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Shape, want.Shape) || !reflect.DeepEqual(got.U8, want.U8) || !reflect.DeepEqual(got.F32, want.F32) ||
			!reflect.DeepEqual(got.Labels, want.Labels) || got.Split != want.Split || got.Source != path {
			t.Errorf("split %q: got %+v, want %+v", want.Split, got, want)
		}
		if !reflect.DeepEqual(got.Classes, []string{"a", "b"}) {
			t.Errorf("classes %q", got.Classes)
		}
	}
	d, _ := LoadDataset(path)
	if b := d.Batch(nil, 1, 2); !reflect.DeepEqual(b, []float32{250, 251, 252, 253, 254, 255}) {
		t.Errorf("Batch %v", b)
	}
	if _, err := LoadSplit(path, "nope"); err == nil || !strings.Contains(err.Error(), `no tensor "x.nope"`) || !strings.Contains(err.Error(), `"val"`) {
		t.Errorf("missing split: %v", err)
	}
	if err := WriteFile(path, train, train); err == nil {
		t.Error("two datasets for one split accepted")
	}
}

// rawTensor is a tensor for writeRaw: raw little-endian bytes of the given dtype.
type rawTensor struct {
	name  string
	dt    dtype.DType
	shape []int64
	data  []byte
}

func writeRaw(t *testing.T, tensors ...rawTensor) string {
	t.Helper()
	var infos []ckpt.Info
	for _, r := range tensors {
		infos = append(infos, ckpt.Info{Name: r.name, DType: r.dt, Shape: r.shape})
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, infos, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tensors {
		if err := w.WriteTensor(r.name, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hostile.safetensors")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func i64s(v ...int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

func f32s(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func TestHostileDatasets(t *testing.T) {
	x3 := rawTensor{"x", dtype.U8, []int64{3, 2}, []byte{1, 2, 3, 4, 5, 6}}
	cases := []struct {
		name    string
		tensors []rawTensor
		want    string
	}{
		{"length mismatch", []rawTensor{x3, {"y", dtype.I64, []int64{2}, i64s(0, 1)}}, `"x" holds 3 samples but "y" holds 2 labels`},
		{"negative label", []rawTensor{x3, {"y", dtype.I64, []int64{3}, i64s(0, -4, 1)}}, "label y[1] = -4"},
		{"huge label", []rawTensor{x3, {"y", dtype.I64, []int64{3}, i64s(0, 1<<40, 1)}}, "label y[1]"},
		{"float labels", []rawTensor{x3, {"y", dtype.F32, []int64{3}, f32s(0, 1, 2)}}, "labels must be integers"},
		{"matrix labels", []rawTensor{x3, {"y", dtype.I64, []int64{3, 2}, i64s(0, 1, 2, 3, 4, 5)}}, "labels must be a vector"},
		{"no labels", []rawTensor{x3}, `no tensor "y"`},
		{"no samples", []rawTensor{{"w", dtype.F32, []int64{1}, f32s(1)}}, `no tensor "x"`},
		{"scalar x", []rawTensor{{"x", dtype.F32, nil, f32s(1)}, {"y", dtype.I64, []int64{1}, i64s(0)}}, "scalar"},
		{"empty", []rawTensor{{"x", dtype.F32, []int64{0, 4}, nil}, {"y", dtype.I64, []int64{0}, nil}}, "no samples"},
		{"bool x", []rawTensor{{"x", dtype.BOOL, []int64{1, 2}, []byte{0, 1}}, {"y", dtype.I64, []int64{1}, i64s(0)}}, "BOOL"},
	}
	for _, c := range cases {
		path := writeRaw(t, c.tensors...)
		_, err := LoadDataset(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", c.name, err, path, c.want)
		}
	}
	// Other integer label types and float samples are read.
	path := writeRaw(t, rawTensor{"x", dtype.F16, []int64{2, 1}, []byte{0, 0x3c, 0, 0x40}}, rawTensor{"y", dtype.U8, []int64{2}, []byte{3, 0}})
	d, err := LoadDataset(path)
	if err != nil || !reflect.DeepEqual(d.F32, []float32{1, 2}) || !reflect.DeepEqual(d.Labels, []int{3, 0}) {
		t.Errorf("F16 samples, U8 labels: %+v, %v", d, err)
	}
	if _, err := LoadDataset(filepath.Join(t.TempDir(), "absent.safetensors")); err == nil || !strings.Contains(err.Error(), "absent.safetensors") {
		t.Errorf("absent file: %v", err)
	}
}

func TestNewDatasetChecks(t *testing.T) {
	if _, err := NewDataset([]int{2}, []float32{1, 2, 3}, []int{0, 1}); err == nil {
		t.Error("3 values for 2 samples of 2 accepted")
	}
	if _, err := NewDataset([]int{1}, []float32{1}, []int{-1}); err == nil {
		t.Error("negative label accepted")
	}
	var buf bytes.Buffer
	if err := Encode(&buf, &Dataset{Shape: []int{2}, F32: []float32{1}, Labels: []int{0}}); err == nil {
		t.Error("Encode of an inconsistent dataset")
	}
}
