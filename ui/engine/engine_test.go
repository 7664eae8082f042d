package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/plan"
	"ladle/core/recipe"
)

// native merges a recipe as `ladle merge` does, from files in dir.
func native(t *testing.T, dir, recipeText string, opts plan.Options) []byte {
	t.Helper()
	path := filepath.Join(dir, "recipe.yaml")
	if err := os.WriteFile(path, []byte(recipeText), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := recipe.Parse([]byte(recipeText), path, dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Prepare(r, plan.FileOpener(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, p.OutputTensors(), p.Metadata(opts))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(context.Background(), w, opts); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func threeModels(t *testing.T) (map[string][]byte, []File) {
	raw := map[string][]byte{"a.safetensors": model(t, layers, 1), "b.safetensors": model(t, layers, 2), "c.safetensors": model(t, layers, 3)}
	var files []File
	for _, n := range []string{"a.safetensors", "b.safetensors", "c.safetensors"} {
		files = append(files, memFile(n, raw[n]))
	}
	return raw, files
}

func TestMethods(t *testing.T) {
	h := newHost()
	New(h.env()).Handle(Request{Type: TypeMethods, ID: "m"}, nil)
	m, ok := h.last(t).(Methods)
	if !ok || m.ID != "m" || len(m.Methods) == 0 {
		t.Fatalf("got %#v", h.last(t))
	}
	b, err := json.Marshal(m)
	if err != nil || !strings.Contains(string(b), `"type":"methods"`) || !strings.Contains(string(b), `"name":"linear"`) {
		t.Fatalf("JSON %s, %v", b, err)
	}
}

func TestInspectBurnFixtures(t *testing.T) {
	var files []File
	for _, n := range []string{"run-a.pt", "run-b-whole-module.pt", "run-c.safetensors"} {
		path := ckpttest.Fixture(t, filepath.Join("burn-mnist", n))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		files = append(files, File{Name: n, Size: fi.Size(), R: f})
	}
	h := newHost()
	New(h.env()).Handle(Request{Type: TypeInspect, ID: "i"}, files)
	ins, ok := h.last(t).(Inspected)
	if !ok || len(ins.Models) != 3 {
		t.Fatalf("got %#v", h.last(t))
	}
	for i, m := range ins.Models {
		if m.Name != files[i].Name || len(m.Tensors) != 20 || m.Parameters == 0 || m.Bytes == 0 {
			t.Errorf("model %d: %s %s, %d tensors, %d parameters, %d bytes", i, m.Name, m.Format, len(m.Tensors), m.Parameters, m.Bytes)
		}
	}
	if ins.Models[0].Format != "pytorch" || ins.Models[2].Format != "safetensors" {
		t.Errorf("formats %s, %s", ins.Models[0].Format, ins.Models[2].Format)
	}
}

const soup = `merge_method: linear
models:
  - model: a.safetensors
  - model: b.safetensors
    parameters: {weight: 2}
  - model: c.safetensors
`

func TestMergeMatchesNative(t *testing.T) {
	raw, files := threeModels(t)
	dir := writeFiles(t, raw)
	recipes := map[string]string{
		"linear": soup,
		"gradient": `merge_method: linear
models:
  - model: a.safetensors
    parameters: {weight: [0.1, 0.9]}
  - model: b.safetensors
    parameters: {weight: [0.9, 0.1]}
out_dtype: bfloat16
`,
		"dare_ties": `merge_method: dare_ties
base_model: a.safetensors
models:
  - model: b.safetensors
    parameters: {weight: 0.6, density: 0.5}
  - model: c.safetensors
    parameters: {weight: 0.4, density: 0.7}
ladle: {seed: 7}
`,
	}
	for name, text := range recipes {
		t.Run(name, func(t *testing.T) {
			want := native(t, dir, text, plan.Options{})
			h := newHost()
			New(h.env()).Handle(Request{Type: TypeMerge, ID: "x", Recipe: text}, files)
			done, ok := h.last(t).(Done)
			if !ok {
				t.Fatalf("got %#v", h.last(t))
			}
			got := done.Blob.([]byte)
			if !bytes.Equal(got, want) {
				t.Fatalf("browser-side merge differs from the native one (%d vs %d bytes)", len(got), len(want))
			}
			if done.Name != DefaultName || done.Bytes != int64(len(want)) || done.WasmMemory != 42 {
				t.Errorf("done %+v", done)
			}
		})
	}
}

func TestSeedOverride(t *testing.T) {
	raw, files := threeModels(t)
	dir := writeFiles(t, raw)
	text := `merge_method: dare_linear
base_model: a.safetensors
models:
  - model: b.safetensors
    parameters: {weight: 1, density: 0.5}
`
	want := native(t, dir, text, plan.Options{Seed: 99, SeedSet: true})
	seed := uint64(99)
	h := newHost()
	New(h.env()).Handle(Request{Type: TypeMerge, ID: "s", Recipe: text, Seed: &seed}, files)
	if done, ok := h.last(t).(Done); !ok || !bytes.Equal(done.Blob.([]byte), want) {
		t.Fatalf("seeded merge differs from native --seed 99: %#v", h.last(t))
	}
}

// decoder is a layout with equal layers, as `slices:` recipes merge them.
var decoder = []spec{
	{"model.embed_tokens.weight", dtype.BF16, []int64{24, 8}},
	{"model.layers.0.mlp.weight", dtype.F32, []int64{16, 8}},
	{"model.layers.0.norm.weight", dtype.F16, []int64{8}},
	{"model.layers.1.mlp.weight", dtype.F32, []int64{16, 8}},
	{"model.layers.1.norm.weight", dtype.F16, []int64{8}},
	{"model.layers.2.mlp.weight", dtype.F32, []int64{16, 8}},
	{"model.layers.2.norm.weight", dtype.F16, []int64{8}},
	{"model.layers.3.mlp.weight", dtype.F32, []int64{16, 8}},
	{"model.layers.3.norm.weight", dtype.F16, []int64{8}},
	{"model.norm.weight", dtype.F32, []int64{8}},
	{"lm_head.weight", dtype.F32, []int64{24, 8}},
}

func TestSplitMergeIsByteIdentical(t *testing.T) {
	_, files := threeModels(t)
	for i, n := range []string{"x.safetensors", "y.safetensors", "z.safetensors"} {
		files = append(files, memFile(n, model(t, decoder, uint64(7+i))))
	}
	recipes := []string{soup,
		// slices: a frankenmerge whose slices reuse layers (layer 1 of x feeds output
		// layers 1 and 2, possibly in different parts), scaled by a filter
		`slices:
  - sources:
    - model: x.safetensors
      layer_range: [0, 2]
  - sources:
    - model: x.safetensors
      layer_range: [1, 3]
      parameters:
        scale: [{filter: mlp, value: 0.5}, {value: 1}]
  - sources:
    - model: y.safetensors
      layer_range: [2, 4]
merge_method: passthrough
dtype: float16
`,
		// slices with a merge per slice: gradients over each slice's layers, a base in
		// every slice, per-tensor seeds
		`slices:
  - sources:
    - {model: x.safetensors, layer_range: [0, 2]}
    - {model: y.safetensors, layer_range: [1, 3]}
    - {model: z.safetensors, layer_range: [2, 4]}
  - sources:
    - {model: x.safetensors, layer_range: [2, 4]}
    - {model: y.safetensors, layer_range: [0, 2], parameters: {weight: [0.1, 0.9], density: 0.6}}
    - {model: z.safetensors, layer_range: [1, 3], parameters: {weight: 0.5, density: 0.4}}
merge_method: dare_ties
base_model: x.safetensors
parameters: {weight: 0.7, density: 0.5}
ladle: {seed: 5}
`,
		`slices:
  - sources:
    - {model: x.safetensors, layer_range: [0, 3]}
    - {model: y.safetensors, layer_range: [1, 4]}
merge_method: karcher
`,
		`merge_method: ties
base_model: a.safetensors
models:
  - model: b.safetensors
    parameters: {weight: [0.2, 1.0], density: 0.5}
  - model: c.safetensors
    parameters: {weight: 0.5, density: 0.3}
out_dtype: float16
`,
		`merge_method: dare_ties
base_model: a.safetensors
models:
  - model: b.safetensors
    parameters: {weight: 0.6, density: 0.5}
  - model: c.safetensors
    parameters: {weight: 0.4, density: 0.7}
ladle: {seed: 3}
`}
	for ri, text := range recipes {
		h := newHost()
		e := New(h.env())
		e.Handle(Request{Type: TypeMerge, ID: "whole", Recipe: text}, files)
		whole := h.last(t).(Done).Blob.([]byte)
		for count := 1; count <= 5; count++ {
			var joined []byte
			for i := 0; i < count; i++ {
				e.Handle(Request{Type: TypeMerge, ID: fmt.Sprint(i), Recipe: text, Part: &Part{Index: i, Count: count}}, files)
				done, ok := h.last(t).(Done)
				if !ok {
					t.Fatalf("recipe %d, part %d/%d: %#v", ri, i, count, h.last(t))
				}
				if done.Part == nil || done.Part.Index != i {
					t.Errorf("done.part = %+v", done.Part)
				}
				joined = append(joined, done.Blob.([]byte)...)
			}
			if !bytes.Equal(joined, whole) {
				t.Fatalf("recipe %d: %d parts joined (%d bytes) differ from one worker's file (%d bytes)", ri, count, len(joined), len(whole))
			}
		}
	}
}

func TestSplitRefusedForModelWideTrim(t *testing.T) {
	_, files := threeModels(t)
	text := `merge_method: ties
base_model: a.safetensors
models:
  - model: b.safetensors
    parameters: {weight: 1, density: 0.5}
ladle: {trim_scope: model}
`
	h := newHost()
	New(h.env()).Handle(Request{Type: TypeMerge, ID: "p", Recipe: text, Part: &Part{Index: 1, Count: 2}}, files)
	e, ok := h.last(t).(Error)
	if !ok || e.Error.Where != "part" {
		t.Fatalf("got %#v", h.last(t))
	}
	if out := h.outputs[0]; !out.aborted || out.finished {
		t.Errorf("output aborted %v finished %v", out.aborted, out.finished)
	}
}

func TestSplitTensorsBalances(t *testing.T) {
	raw := model(t, layers, 1)
	src, err := safetensors.Open(bytes.NewReader(raw), int64(len(raw)), "x")
	if err != nil {
		t.Fatal(err)
	}
	tensors := src.Tensors()
	for count := 1; count <= 12; count++ {
		b := SplitTensors(tensors, count)
		if len(b) != count+1 || b[0] != 0 || b[count] != len(tensors) {
			t.Fatalf("count %d: bounds %v", count, b)
		}
		for i := 0; i < count; i++ {
			if b[i] > b[i+1] {
				t.Fatalf("count %d: bounds %v not monotonic", count, b)
			}
		}
	}
	// layers.1.weight (8 KiB) is most of the bytes: with 2 parts it is in a part of its own side.
	b := SplitTensors(tensors, 2)
	if b[1] != 3 && b[1] != 4 {
		t.Errorf("2 parts: cut at %d", b[1])
	}
}

func TestHostileFileGivesStructuredErrorAndEngineGoesOn(t *testing.T) {
	raw, files := threeModels(t)
	bad := append([]byte(nil), raw["b.safetensors"]...)
	bad = bad[:len(bad)-100] // truncated: the last tensor's data is cut
	hostile := []File{files[0], memFile("b.safetensors", bad), files[2]}
	h := newHost()
	e := New(h.env())
	e.Handle(Request{Type: TypeMerge, ID: "bad", Recipe: soup}, hostile)
	msg, ok := h.last(t).(Error)
	if !ok || msg.ID != "bad" || msg.Error.File != "b.safetensors" || msg.Error.Message == "" {
		t.Fatalf("got %#v", h.last(t))
	}
	// inspect a file that is not a checkpoint at all
	e.Handle(Request{Type: TypeInspect, ID: "junk"}, []File{memFile("notes.txt", []byte("hello, not a checkpoint"))})
	if msg, ok := h.last(t).(Error); !ok || msg.Error.File != "notes.txt" {
		t.Fatalf("got %#v", h.last(t))
	}
	// a header that lies about offsets
	lie := append([]byte(nil), raw["c.safetensors"]...)
	copy(lie[8:], []byte(`{"x":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}`))
	e.Handle(Request{Type: TypeInspect, ID: "lie"}, []File{memFile("lie.safetensors", lie)})
	if msg, ok := h.last(t).(Error); !ok || msg.Error.File != "lie.safetensors" {
		t.Fatalf("got %#v", h.last(t))
	}
	e.Handle(Request{Type: TypeMerge, ID: "good", Recipe: soup}, files)
	if _, ok := h.last(t).(Done); !ok {
		t.Fatalf("after errors: %#v", h.last(t))
	}
}

func TestRecipeAndFileErrors(t *testing.T) {
	_, files := threeModels(t)
	cases := []struct {
		recipe, where, file string
	}{
		{"merge_method: linear\nmodels:\n  - model: a.safetensors\n  - model: zzz.safetensors\n", "models[1]", "zzz.safetensors"},
		{"merge_method: lineer\nmodels:\n  - model: a.safetensors\n", "merge_method", ""},
		{"merge_method: linear\nmodels: [\n", "recipe", ""},
		{"merge_method: linear\nmodels:\n  - model: a.safetensors\n    parameters: {weight: -1, bogus: 2}\n", "models[0].parameters.bogus", ""},
	}
	for _, c := range cases {
		h := newHost()
		New(h.env()).Handle(Request{Type: TypeMerge, ID: "r", Recipe: c.recipe}, files)
		msg, ok := h.last(t).(Error)
		if !ok || msg.Error.Where != c.where || msg.Error.File != c.file {
			t.Errorf("%q: got %#v", c.recipe, h.last(t))
		}
	}
}

func TestMissingFileNamesTheFilesGiven(t *testing.T) {
	_, files := threeModels(t)
	h := newHost()
	New(h.env()).Handle(Request{Type: TypeMerge, ID: "r", Recipe: "merge_method: linear\nmodels:\n  - model: a.safetensors\n  - model: d.safetensors\n"}, files)
	msg := h.last(t).(Error)
	if !strings.Contains(msg.Error.Message, "d.safetensors") || !strings.Contains(msg.Error.Message, "a.safetensors, b.safetensors, c.safetensors") {
		t.Errorf("message %q", msg.Error.Message)
	}
}

func TestModelNamesMatchByBaseName(t *testing.T) {
	_, files := threeModels(t)
	h := newHost()
	New(h.env()).Handle(Request{Type: TypeMerge, ID: "r", Recipe: "merge_method: linear\nmodels:\n  - model: runs/a.safetensors\n  - model: ./b.safetensors\n"}, files)
	if _, ok := h.last(t).(Done); !ok {
		t.Fatalf("got %#v", h.last(t))
	}
}

// blockingReader lets the first n reads through and parks the others until release.
type blockingReader struct {
	r       io.ReaderAt
	mu      sync.Mutex
	n       int
	parked  chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingReader) ReadAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	b.n--
	park := b.n < 0
	b.mu.Unlock()
	if park {
		b.once.Do(func() { close(b.parked) })
		<-b.release
	}
	return b.r.ReadAt(p, off)
}

func TestCancelMidMerge(t *testing.T) {
	raw, files := threeModels(t)
	br := &blockingReader{r: bytes.NewReader(raw["c.safetensors"]), n: 6, parked: make(chan struct{}), release: make(chan struct{})}
	files[2].R = br
	h := newHost()
	e := New(h.env())
	e.Go(Request{Type: TypeMerge, ID: "long", Recipe: soup}, files)
	<-br.parked // the merge is reading
	e.Go(Request{Type: TypeCancel, ID: "long"}, nil)
	close(br.release)
	msg := h.wait(t)
	if c, ok := msg.(Cancelled); !ok || c.ID != "long" {
		t.Fatalf("got %#v", msg)
	}
	if out := h.outputs[0]; !out.aborted || out.finished {
		t.Errorf("output aborted %v finished %v", out.aborted, out.finished)
	}
	for e.Running() > 0 {
		time.Sleep(time.Millisecond)
	}
	// the id is free again, and cancelling an unknown id does nothing
	e.Handle(Request{Type: TypeCancel, ID: "nothing"}, nil)
	files[2].R = bytes.NewReader(raw["c.safetensors"])
	e.Handle(Request{Type: TypeMerge, ID: "long", Recipe: soup}, files)
	if _, ok := h.last(t).(Done); !ok {
		t.Fatalf("after cancel: %#v", h.last(t))
	}
}

func TestProgressIsRateLimited(t *testing.T) {
	_, files := threeModels(t)
	h := newHost()
	env := h.env()
	var clock time.Time
	env.Now = func() time.Time { clock = clock.Add(30 * time.Millisecond); return clock }
	New(env).Handle(Request{Type: TypeMerge, ID: "p", Recipe: soup}, files)
	var progress []Progress
	for _, m := range h.msgs {
		if p, ok := m.(Progress); ok {
			progress = append(progress, p)
		}
	}
	if len(progress) == 0 || len(progress) >= len(layers) {
		t.Fatalf("%d progress messages for %d tensors", len(progress), len(layers))
	}
	lastP := progress[len(progress)-1]
	if lastP.TensorsDone != len(layers) || lastP.TensorsTotal != len(layers) || lastP.BytesDone != lastP.BytesTotal || lastP.WasmMemory != 42 {
		t.Errorf("last progress %+v", lastP)
	}
	if _, ok := h.last(t).(Done); !ok {
		t.Errorf("last message %#v", h.last(t))
	}
}

type panickyOutput struct{ bufOutput }

func (p *panickyOutput) Write([]byte) (int, error) { panic("boom") }

func TestPanicBecomesError(t *testing.T) {
	_, files := threeModels(t)
	h := newHost()
	env := h.env()
	env.NewOutput = func(OutputSpec) (Output, error) { return &panickyOutput{}, nil }
	e := New(env)
	e.Handle(Request{Type: TypeMerge, ID: "p", Recipe: soup}, files)
	if msg, ok := h.last(t).(Error); !ok || !strings.Contains(msg.Error.Message, "internal error") {
		t.Fatalf("got %#v", h.last(t))
	}
	if e.Running() != 0 {
		t.Error("the request is still registered")
	}
}

func TestUnknownTypeAndBusyID(t *testing.T) {
	h := newHost()
	e := New(h.env())
	e.Handle(Request{Type: "frobnicate", ID: "u"}, nil)
	if msg, ok := h.last(t).(Error); !ok || msg.Error.Where != "type" {
		t.Fatalf("got %#v", h.last(t))
	}
	_, files := threeModels(t)
	br := &blockingReader{r: files[0].R, n: 0, parked: make(chan struct{}), release: make(chan struct{})}
	files[0].R = br
	e.Go(Request{Type: TypeMerge, ID: "dup", Recipe: soup}, files)
	<-br.parked
	e.Handle(Request{Type: TypeMethods, ID: "dup"}, nil)
	if msg, ok := h.last(t).(Error); !ok || msg.Error.Where != "id" {
		t.Fatalf("got %#v", h.last(t))
	}
	close(br.release)
	h.wait(t) // the unknown type's error
	h.wait(t) // the duplicate id's error
	if _, ok := h.wait(t).(Done); !ok {
		t.Fatal("the first request did not finish")
	}
}

func TestReadBenchmarkRequest(t *testing.T) {
	raw, files := threeModels(t)
	h := newHost()
	New(h.env()).Handle(Request{Type: TypeRead, ID: "r"}, files)
	res, ok := h.last(t).(ReadResult)
	if !ok {
		t.Fatalf("got %#v", h.last(t))
	}
	var want int64
	for _, b := range raw {
		src, _ := safetensors.Open(bytes.NewReader(b), int64(len(b)), "")
		for _, ti := range src.Tensors() {
			want += ti.Bytes()
		}
	}
	if res.Bytes != want {
		t.Errorf("read %d bytes, want %d", res.Bytes, want)
	}
}

func TestMessagesMarshalAsTheProtocolSays(t *testing.T) {
	cases := map[string]any{
		`{"type":"progress","id":"a","tensorsDone":1,"tensorsTotal":2,"bytesDone":3,"bytesTotal":4,"tensor":"w"}`: Progress{Type: TypeProgress, ID: "a", TensorsDone: 1, TensorsTotal: 2, BytesDone: 3, BytesTotal: 4, Tensor: "w"},
		`{"type":"done","id":"a","name":"m.safetensors","bytes":5,"seconds":1.5}`:                                 Done{Type: TypeDone, ID: "a", Name: "m.safetensors", Bytes: 5, Seconds: 1.5, Blob: []byte("x")},
		`{"type":"error","id":"a","error":{"message":"m","file":"f","tensor":"t"}}`:                               Error{Type: TypeError, ID: "a", Error: ErrorInfo{Message: "m", File: "f", Tensor: "t"}},
		`{"type":"cancelled","id":"a"}`: Cancelled{Type: TypeCancelled, ID: "a"},
	}
	for want, msg := range cases {
		b, err := json.Marshal(msg)
		if err != nil || string(b) != want {
			t.Errorf("got %s (%v), want %s", b, err, want)
		}
	}
	var req Request
	if err := json.Unmarshal([]byte(`{"type":"merge","id":"7","recipe":"x","seed":12,"part":{"index":1,"count":4}}`), &req); err != nil ||
		req.Seed == nil || *req.Seed != 12 || req.Part == nil || req.Part.Count != 4 {
		t.Errorf("request %+v, %v", req, err)
	}
}
