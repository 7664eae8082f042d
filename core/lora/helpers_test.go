package lora_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/tensor"
)

// mat is a named float32 tensor for test files.
type mat struct {
	name  string
	dt    dtype.DType
	shape []int64
	data  []float32 // the values, exactly representable in dt
}

func (m mat) rows() int { return int(m.shape[0]) }
func (m mat) cols() int { return int(m.shape[1]) }

// random returns a tensor of values drawn from the counter-based generator, rounded
// to dt.
func random(name string, dt dtype.DType, seed uint64, scale float32, shape ...int64) mat {
	n := ckpt.NumElements(shape)
	rng := tensor.NewRNG(seed, 0, name)
	x := make([]float32, n)
	for i := range x {
		x[i] = roundTo(dt, scale*float32(2*rng.Float64(int64(i))-1))
	}
	return mat{name: name, dt: dt, shape: shape, data: x}
}

func roundTo(dt dtype.DType, v float32) float32 {
	b := make([]byte, dt.Size())
	if err := dtype.EncodeF32(b, []float32{v}, dt); err != nil {
		panic(err)
	}
	out := make([]float32, 1)
	if err := dtype.DecodeF32(out, b, dt); err != nil {
		panic(err)
	}
	return out[0]
}

func encode(m mat) []byte {
	b := make([]byte, len(m.data)*m.dt.Size())
	if err := dtype.EncodeF32(b, m.data, m.dt); err != nil {
		panic(err)
	}
	return b
}

// writeST writes a safetensors file of the given tensors.
func writeST(t testing.TB, path string, ms ...mat) {
	t.Helper()
	var infos []ckpt.Info
	for _, m := range ms {
		infos = append(infos, ckpt.Info{Name: m.name, DType: m.dt, Shape: m.shape})
	}
	err := safetensors.WriteFile(path, infos, map[string]string{"format": "pt"}, func(w *safetensors.Writer) error {
		for _, m := range ms {
			if err := w.WriteTensor(m.name, encode(m)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// peftConfig returns adapter_config.json as PEFT 0.13's save_pretrained writes it,
// with the given changes.
func peftConfig(r int, alpha float64, changes map[string]any) []byte {
	c := map[string]any{
		"alpha_pattern": map[string]any{}, "auto_mapping": nil, "base_model_name_or_path": "base",
		"bias": "none", "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
		"layer_replication": nil, "layers_pattern": nil, "layers_to_transform": nil, "loftq_config": map[string]any{},
		"lora_alpha": alpha, "lora_dropout": 0.05, "megatron_config": nil, "megatron_core": "megatron.core",
		"modules_to_save": nil, "peft_type": "LORA", "r": r, "rank_pattern": map[string]any{}, "revision": nil,
		"target_modules": []string{"fc1", "fc2"}, "task_type": nil, "use_dora": false, "use_rslora": false,
	}
	for k, v := range changes {
		c[k] = v
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// writeAdapter writes a PEFT adapter folder: the config and adapter_model.safetensors
// (or .bin with torch) holding the given tensors, named as PEFT names them.
func writeAdapter(t testing.TB, dir string, config []byte, torch bool, ms ...mat) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	if torch {
		if err := os.WriteFile(filepath.Join(dir, "adapter_model.bin"), torchZip(ms), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	writeST(t, filepath.Join(dir, "adapter_model.safetensors"), ms...)
}

// torchZip writes float32 tensors as torch.save does (zip of a protocol-2 pickle of
// an OrderedDict of _rebuild_tensor_v2 calls over FloatStorages).
func torchZip(ms []mat) []byte {
	var p bytes.Buffer
	op := func(b ...byte) { p.Write(b) }
	str := func(s string) {
		p.WriteByte('X')
		binary.Write(&p, binary.LittleEndian, uint32(len(s)))
		p.WriteString(s)
	}
	num := func(n int) {
		p.WriteByte('J')
		binary.Write(&p, binary.LittleEndian, int32(n))
	}
	global := func(mod, name string) { p.WriteString("c" + mod + "\n" + name + "\n") }
	tuple := func(v []int) {
		op('(')
		for _, n := range v {
			num(n)
		}
		op('t')
	}
	op(0x80, 2)
	global("collections", "OrderedDict")
	op(')', 'R')
	for i, m := range ms {
		str(m.name)
		global("torch._utils", "_rebuild_tensor_v2")
		op('(', '(')
		str("storage")
		global("torch", "FloatStorage")
		str(string(rune('0' + i)))
		str("cpu")
		num(len(m.data))
		op('t', 'Q')
		num(0)
		shape := []int{int(m.shape[0]), int(m.shape[1])}
		tuple(shape)
		tuple([]int{shape[1], 1})
		op(0x89)
		global("collections", "OrderedDict")
		op(')', 'R', 't', 'R', 's')
	}
	op('.')
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/" + name, Method: zip.Store})
		if err != nil {
			panic(err)
		}
		w.Write(data)
	}
	add("data.pkl", p.Bytes())
	for i, m := range ms {
		f32 := m
		f32.dt = dtype.F32
		add("data/"+string(rune('0'+i)), encode(f32))
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// readF32 reads a tensor of src as float32.
func readF32(t testing.TB, src ckpt.Source, name string) ([]float32, ckpt.Info) {
	t.Helper()
	info, ok := ckpt.Lookup(src, name)
	if !ok {
		t.Fatalf("%s: no tensor %s", src.Path(), name)
	}
	raw, err := ckpt.ReadAll(src, name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, info.NumElements())
	if err := dtype.DecodeF32(out, raw, info.DType); err != nil {
		t.Fatal(err)
	}
	return out, info
}

// dense is the naive reference: W + s·(B·A) (transposed into W's [in, out] layout
// when fifo), each element float32(W + s·Σk B[i,k]·A[k,j]) with float64 products
// summed in k order.
func dense(w, a, b mat, s float64, fifo bool) []float32 {
	out, in, r := b.rows(), a.cols(), a.rows()
	res := make([]float32, len(w.data))
	for i := 0; i < out; i++ {
		for j := 0; j < in; j++ {
			var sum float64
			for k := 0; k < r; k++ {
				sum += float64(b.data[i*r+k]) * float64(a.data[k*in+j])
			}
			at := i*in + j
			if fifo {
				at = j*out + i
			}
			res[at] = float32(float64(w.data[at]) + s*sum)
		}
	}
	return res
}

func relFrobenius(got, want []float32) float64 {
	var d, n float64
	for i := range got {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}
