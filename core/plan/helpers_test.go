package plan

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/recipe"
)

// testTensor is one tensor of a test checkpoint.
type testTensor struct {
	name  string
	dt    dtype.DType
	shape []int64
}

// layout is a small network: conv, linear, batchnorm with an I64 counter.
var layout = []testTensor{
	{"conv1.weight", dtype.F32, []int64{8, 3, 3, 3}},
	{"conv1.bias", dtype.F32, []int64{8}},
	{"fc.weight", dtype.F32, []int64{10, 300}},
	{"fc.bias", dtype.F32, []int64{10}},
	{"norm.running_mean", dtype.F32, []int64{10}},
	{"norm.num_batches_tracked", dtype.I64, []int64{}},
	{"embed.weight", dtype.BF16, []int64{16, 4}},
}

// writeModel writes a checkpoint whose float values are base + scale·noise(seed), so
// that models made with one base share a start, as fine-tunes do.
func writeModel(t testing.TB, path string, tensors []testTensor, baseSeed, seed uint64, scale float64) map[string][]float32 {
	t.Helper()
	values := map[string][]float32{}
	var infos []ckpt.Info
	var data [][]byte
	for _, tt := range tensors {
		info := ckpt.Info{Name: tt.name, DType: tt.dt, Shape: tt.shape}
		n := int(info.NumElements())
		b := make([]byte, info.Bytes())
		if !tt.dt.IsFloat() {
			binary.LittleEndian.PutUint64(b, 1000+seed)
		} else {
			rb := rand.New(rand.NewPCG(baseSeed, uint64(len(tt.name))))
			rs := rand.New(rand.NewPCG(seed, uint64(len(tt.name))+99))
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rb.NormFloat64()*0.1 + rs.NormFloat64()*scale)
			}
			if err := dtype.EncodeF32(b, v, tt.dt); err != nil {
				t.Fatal(err)
			}
			if err := dtype.DecodeF32(v, b, tt.dt); err != nil { // the values as stored
				t.Fatal(err)
			}
			values[tt.name] = v
		}
		infos = append(infos, info)
		data = append(data, b)
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, infos, map[string]string{"ladle.arch": `{"layers": []}`})
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range infos {
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
	return values
}

// mergeToBytes runs a recipe and returns the output file's bytes.
func mergeToBytes(t testing.TB, dir, yaml string, opts Options) []byte {
	t.Helper()
	b, err := tryMerge(dir, yaml, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tryMerge(dir, yaml string, opts Options) ([]byte, error) {
	r, err := recipe.Parse([]byte(yaml), "recipe.yaml", dir)
	if err != nil {
		return nil, err
	}
	p, err := Prepare(r, FileOpener(dir))
	if err != nil {
		return nil, err
	}
	defer p.Close()
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, p.OutputTensors(), p.Metadata(opts))
	if err != nil {
		return nil, err
	}
	if err := p.Execute(context.Background(), w, opts); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tensorsOf reads every tensor of a safetensors file held in memory as float32 (or raw
// bytes for integer tensors, widened one byte per element).
func tensorsOf(t testing.TB, file []byte) (map[string][]float32, ckpt.Source) {
	t.Helper()
	src, err := safetensors.Open(bytes.NewReader(file), int64(len(file)), "out.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, info := range src.Tensors() {
		b, err := ckpt.ReadAll(src, info.Name)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, info.NumElements())
		if err := dtype.DecodeF32(v, b, info.DType); err != nil {
			t.Fatal(err)
		}
		out[info.Name] = v
	}
	return out, src
}

// countingOpener records every tensor read through the sources it opens.
type countingOpener struct {
	reads atomic.Int64
}

func (c *countingOpener) open(dir string) Opener {
	inner := FileOpener(dir)
	return func(path string) (ckpt.Source, error) {
		src, err := inner(path)
		if err != nil {
			return nil, err
		}
		return &countingSource{Source: src, c: c}, nil
	}
}

type countingSource struct {
	ckpt.Source
	c *countingOpener
}

func (s *countingSource) Tensor(name string) (*io.SectionReader, error) {
	s.c.reads.Add(1)
	return s.Source.Tensor(name)
}

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func modelPaths(dir string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

func newTestWriter(w io.Writer, infos []ckpt.Info) (*safetensors.Writer, error) {
	return safetensors.NewWriter(w, infos, nil)
}
