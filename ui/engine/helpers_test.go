package engine

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

type spec struct {
	name  string
	dt    dtype.DType
	shape []int64
}

// layers is a small network with layer numbers (so gradients matter), an integer
// counter and a bfloat16 tensor.
var layers = []spec{
	{"embed.weight", dtype.BF16, []int64{16, 8}},
	{"layers.0.weight", dtype.F32, []int64{32, 16}},
	{"layers.0.bias", dtype.F32, []int64{32}},
	{"layers.1.weight", dtype.F32, []int64{64, 32}},
	{"layers.1.bias", dtype.F32, []int64{64}},
	{"layers.2.weight", dtype.F16, []int64{10, 64}},
	{"norm.num_batches_tracked", dtype.I64, []int64{}},
	{"head.weight", dtype.F32, []int64{10, 10}},
}

// model returns a safetensors file of the layout whose values are a shared base plus
// seed-dependent noise.
func model(t testing.TB, specs []spec, seed uint64) []byte {
	t.Helper()
	var infos []ckpt.Info
	var data [][]byte
	for k, s := range specs {
		info := ckpt.Info{Name: s.name, DType: s.dt, Shape: s.shape}
		b := make([]byte, info.Bytes())
		if s.dt.IsFloat() {
			base := rand.New(rand.NewPCG(1, uint64(k)))
			noise := rand.New(rand.NewPCG(seed, uint64(k)+100))
			v := make([]float32, info.NumElements())
			for i := range v {
				v[i] = float32(base.NormFloat64()*0.1 + noise.NormFloat64()*0.02)
			}
			if err := dtype.EncodeF32(b, v, s.dt); err != nil {
				t.Fatal(err)
			}
		} else {
			binary.LittleEndian.PutUint64(b, 100+seed)
		}
		infos = append(infos, info)
		data = append(data, b)
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, infos, map[string]string{"seed": string(rune('0' + seed%10))})
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
	return buf.Bytes()
}

func memFile(name string, b []byte) File {
	return File{Name: name, Size: int64(len(b)), R: bytes.NewReader(b)}
}

// writeFiles writes files into a folder, for native merges with plan.FileOpener.
func writeFiles(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// host records what an engine posts.
type host struct {
	mu      sync.Mutex
	msgs    []any
	outputs []*bufOutput
	got     chan any
}

func newHost() *host { return &host{got: make(chan any, 1000)} }

func (h *host) env() Env {
	return Env{
		Post: func(msg any) {
			h.mu.Lock()
			h.msgs = append(h.msgs, msg)
			h.mu.Unlock()
			h.got <- msg
		},
		NewOutput: func(spec OutputSpec) (Output, error) {
			o := &bufOutput{name: spec.Name}
			h.mu.Lock()
			h.outputs = append(h.outputs, o)
			h.mu.Unlock()
			return o, nil
		},
		Memory: func() int64 { return 42 },
	}
}

// last returns the last message posted.
func (h *host) last(t *testing.T) any {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.msgs) == 0 {
		t.Fatal("nothing was posted")
	}
	return h.msgs[len(h.msgs)-1]
}

// wait returns the next message that is not progress.
func (h *host) wait(t *testing.T) any {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-h.got:
			if _, ok := m.(Progress); !ok {
				return m
			}
		case <-timeout:
			t.Fatal("no answer in 30s")
		}
	}
}

type bufOutput struct {
	name     string
	buf      bytes.Buffer
	finished bool
	aborted  bool
}

func (o *bufOutput) Write(p []byte) (int, error) { return o.buf.Write(p) }
func (o *bufOutput) Finish() (any, error)        { o.finished = true; return o.buf.Bytes(), nil }
func (o *bufOutput) Abort()                      { o.aborted = true }
