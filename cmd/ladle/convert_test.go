package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

// writeSafetensors writes tensors with the given raw data to a file in dir.
func writeSafetensors(t *testing.T, path string, tensors []ckpt.Info, data [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, tensors, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range tensors {
		if err := w.WriteTensor(info.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTensor(t *testing.T, path, name string) (ckpt.Info, []byte) {
	t.Helper()
	src, err := ckpt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	info, ok := ckpt.Lookup(src, name)
	if !ok {
		t.Fatalf("%s has no %s", path, name)
	}
	b, err := ckpt.ReadAll(src, name)
	if err != nil {
		t.Fatal(err)
	}
	return info, b
}

// bf16RNE is the reference rounding of a float32 to bfloat16, done differently from
// the dtype package: in float64, by picking the nearer of the two bfloat16 neighbours.
func bf16RNE(x float32) uint16 {
	bits := math.Float32bits(x)
	if x != x {
		return 0x7fc0 | uint16(bits>>16)&0x8000
	}
	down := uint16(bits >> 16) // truncation: the neighbour toward zero
	up := down + 1
	lo := float64(math.Float32frombits(uint32(down) << 16))
	hi := float64(math.Float32frombits(uint32(up) << 16))
	if math.IsInf(hi, 0) { // past the largest finite: measure against 2^128, where the next value would be
		hi = math.Copysign(math.Ldexp(1, 128), float64(x))
	}
	dl, dh := math.Abs(float64(x)-lo), math.Abs(hi-float64(x))
	switch {
	case dl < dh:
		return down
	case dh < dl:
		return up
	case down&1 == 0:
		return down
	}
	return up
}

func TestConvertF32ToBF16ToF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 1 << 20 // several conversion chunks
	vals := make([]float32, n)
	for i := range vals {
		switch i % 4 {
		case 0:
			vals[i] = math.Float32frombits(rng.Uint32()) // every kind of value, NaN and Inf included
		case 1:
			vals[i] = float32(rng.NormFloat64() * 0.02) // typical weights
		case 2: // exact midpoints between bfloat16 neighbours: ties to even
			vals[i] = math.Float32frombits(rng.Uint32()&0xffff0000 | 0x8000)
		default:
			vals[i] = math.Float32frombits(rng.Uint32()&0x7f7f0000 | 0x7fff)
		}
		if v := vals[i]; !math.IsInf(float64(v), 0) && bf16RNE(v)&0x7fff == 0x7f80 {
			vals[i] = v / 2 // a finite value that would overflow is an error, tested below
		}
	}
	raw := make([]byte, 4*n)
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	dir := t.TempDir()
	in, mid, back := filepath.Join(dir, "in.safetensors"), filepath.Join(dir, "mid.safetensors"), filepath.Join(dir, "back.safetensors")
	writeSafetensors(t, in, []ckpt.Info{{Name: "w", DType: dtype.F32, Shape: []int64{n / 1024, 1024}}, {Name: "step", DType: dtype.I64, Shape: []int64{}}},
		[][]byte{raw, {7, 0, 0, 0, 0, 0, 0, 0}})
	for _, args := range [][]string{{"convert", in, "-o", mid, "--dtype", "BF16"}, {"convert", "--dtype", "f32", mid, "-o", back}} {
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	info, bf := readTensor(t, mid, "w")
	if info.DType != dtype.BF16 || info.Shape[1] != 1024 {
		t.Fatalf("mid is %s%v", info.DType, info.Shape)
	}
	_, f32 := readTensor(t, back, "w")
	bad := 0
	for i, v := range vals {
		want := bf16RNE(v)
		got := binary.LittleEndian.Uint16(bf[2*i:])
		wantBack := math.Float32frombits(uint32(want) << 16)
		gotBack := math.Float32frombits(binary.LittleEndian.Uint32(f32[4*i:]))
		nan := v != v
		if nan && (got&0x7f80 != 0x7f80 || got&0x7f == 0 || gotBack == gotBack) {
			t.Errorf("element %d: NaN became %#04x / %v", i, got, gotBack)
		} else if !nan && (got != want || math.Float32bits(gotBack) != math.Float32bits(wantBack)) {
			t.Errorf("element %d: %v (%#08x) became %#04x and %v, want %#04x and %v", i, v, math.Float32bits(v), got, gotBack, want, wantBack)
		}
		if t.Failed() {
			if bad++; bad > 5 {
				t.FailNow()
			}
		}
	}
	if _, step := readTensor(t, back, "step"); step[0] != 7 {
		t.Error("the integer tensor was changed by the conversion")
	}
	if info, _ := readTensor(t, mid, "step"); info.DType != dtype.I64 {
		t.Errorf("the integer tensor became %s", info.DType)
	}
}

func TestConvertOverflowIsAnErrorAndLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.safetensors"), filepath.Join(dir, "out.safetensors")
	raw := binary.LittleEndian.AppendUint32(nil, math.Float32bits(1))
	raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(70000))
	writeSafetensors(t, in, []ckpt.Info{{Name: "big", DType: dtype.F32, Shape: []int64{2}}}, [][]byte{raw})
	code, _, stderr := runCLI(t, "convert", in, "-o", out, "--dtype", "F16")
	if code != 1 || !strings.Contains(stderr, `"big"`) || !strings.Contains(stderr, "BF16") {
		t.Errorf("exit %d, stderr %q: want 1 and a message naming the tensor and suggesting BF16", code, stderr)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("a failed convert left files behind: %d entries", len(entries))
	}
	// BF16 has (almost) the range of F32: the same file converts.
	if code, _, stderr := runCLI(t, "convert", in, "-o", out, "--dtype", "BF16"); code != 0 {
		t.Errorf("BF16: exit %d: %s", code, stderr)
	}
	// Only the top 0.4% of F32's range overflows BF16.
	raw = binary.LittleEndian.AppendUint32(nil, math.Float32bits(math.MaxFloat32))
	writeSafetensors(t, in, []ckpt.Info{{Name: "huge", DType: dtype.F32, Shape: []int64{1}}}, [][]byte{raw})
	code, _, stderr = runCLI(t, "convert", in, "-o", out, "--dtype", "BF16")
	if code != 1 || !strings.Contains(stderr, `"huge"`) || !strings.Contains(stderr, "F32") {
		t.Errorf("exit %d, stderr %q: want 1 and a message naming the tensor and suggesting F32", code, stderr)
	}
}

func TestConvertKeepsMetadataAndAddsFormat(t *testing.T) {
	path := ckpttest.Fixture(t, "safetensors-samples/overall.safetensors")
	out := filepath.Join(t.TempDir(), "o.safetensors")
	if code, _, stderr := runCLI(t, "convert", path, "-o", out); code != 0 {
		t.Fatal(stderr)
	}
	src, err := ckpt.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if md := src.Metadata(); md["test"] != "a" || md["format"] != "pt" {
		t.Errorf("metadata %v", md)
	}
	orig, _ := ckpt.Open(path)
	defer orig.Close()
	for _, info := range orig.Tensors() {
		a, _ := ckpt.ReadAll(orig, info.Name)
		b, _ := ckpt.ReadAll(src, info.Name)
		if !bytes.Equal(a, b) {
			t.Errorf("%s changed without --dtype", info.Name)
		}
	}
}

// Converting a PyTorch checkpoint keeps every tensor bit for bit.
func TestConvertPyTorchIsBitExact(t *testing.T) {
	for _, rel := range []string{"burn-mnist/run-a.pt", "burn-mnist/run-b-whole-module.pt", "candle/fortran_tensor_3d.pth", "pytorch/burn-legacy_uncloned_views.pt", "pytorch/burn-bfloat16.pt"} {
		in := ckpttest.Fixture(t, rel)
		out := filepath.Join(t.TempDir(), "out.safetensors")
		if code, _, stderr := runCLI(t, "convert", in, "-o", out); code != 0 {
			t.Fatalf("%s: exit %d: %s", rel, code, stderr)
		}
		src, err := ckpt.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := ckpt.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if dst.Format() != "safetensors" || len(dst.Tensors()) != len(src.Tensors()) {
			t.Fatalf("%s: converted to %s with %d tensors, from %d", rel, dst.Format(), len(dst.Tensors()), len(src.Tensors()))
		}
		for i, info := range src.Tensors() {
			got := dst.Tensors()[i]
			if got.Name != info.Name || got.DType != info.DType || !slices.Equal(got.Shape, info.Shape) {
				t.Errorf("%s: tensor %d is %s %s%v, want %s %s%v", rel, i, got.Name, got.DType, got.Shape, info.Name, info.DType, info.Shape)
			}
			a, _ := ckpt.ReadAll(src, info.Name)
			b, _ := ckpt.ReadAll(dst, info.Name)
			if !bytes.Equal(a, b) {
				t.Errorf("%s: %s changed in conversion", rel, info.Name)
			}
		}
		src.Close()
		dst.Close()
	}
}

// The values of a converted file are those the source repository saved: conv1.weight of
// burn-mnist/run-a.pt starts as decoded from the file by an independent decoder.
func TestConvertRunAValues(t *testing.T) {
	in := ckpttest.Fixture(t, "burn-mnist/run-a.pt")
	out := filepath.Join(t.TempDir(), "run-a.safetensors")
	if code, _, stderr := runCLI(t, "convert", in, "-o", out, "--dtype", "F16"); code != 0 {
		t.Fatal(stderr)
	}
	_, f32 := readTensor(t, in, "fc2.bias")
	info, f16 := readTensor(t, out, "fc2.bias")
	if info.DType != dtype.F16 {
		t.Fatalf("fc2.bias is %s", info.DType)
	}
	for i := 0; i < 10; i++ {
		x := math.Float32frombits(binary.LittleEndian.Uint32(f32[4*i:]))
		if got, want := binary.LittleEndian.Uint16(f16[2*i:]), dtype.F32ToF16(x); got != want {
			t.Errorf("fc2.bias[%d] = %v became %#04x, want %#04x", i, x, got, want)
		}
	}
}
