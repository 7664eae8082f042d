package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ladle/ui/engine"
)

// The WebGPU tests run their own Chromium, started with --enable-unsafe-webgpu
// (SwiftShader's adapter), on the engine test page with ?gpu=... in its URL, which
// the page passes on to its workers.
var (
	gpuOnce sync.Once
	gpuB    *Browser
	gpuErr  error
)

func gpuPage(t *testing.T, query string) *Browser {
	t.Helper()
	page(t, 1) // the shared server and dist (and the skip when there is no Chromium)
	gpuOnce.Do(func() {
		gpuB, gpuErr = Start(context.Background(), Options{Exec: FindChromium(), WebGPU: true})
	})
	if gpuErr != nil {
		t.Fatal(gpuErr)
	}
	if err := gpuB.Navigate(sharedSrv.URL + "/enginetest.html" + query); err != nil {
		t.Fatal(err)
	}
	if n := eval[int](t, gpuB, "ladleTest.start(1)"); n != 1 {
		t.Fatalf("started %d workers", n)
	}
	return gpuB
}

type backendReport struct {
	GPU     bool   `json:"gpu"`
	Name    string `json:"name"`
	Reason  string `json:"reason"`
	Adapter string `json:"adapter"`
	Text    string `json:"text"`
	Tests   []struct {
		Kernel   string  `json:"kernel"`
		Elements int     `json:"elements"`
		OnGPU    int     `json:"onGPU"`
		MaxError float64 `json:"maxError"`
		Err      string  `json:"error"`
	} `json:"tests"`
	Stats *struct {
		UnitSums   int   `json:"unitSums"`
		Elements   int64 `json:"elements"`
		Flagged    int64 `json:"flagged"`
		Histograms int   `json:"histograms"`
		Declined   int   `json:"declined"`
		Forward    int   `json:"forward"`
		LogSoftmax int   `json:"logSoftmax"`
		Ties       int   `json:"ties"`
		TaskSums   int   `json:"taskSums"`
		TiesElems  int64 `json:"tiesElements"`
		TiesFlag   int64 `json:"tiesFlagged"`
	} `json:"stats"`
}

func backendOf(t *testing.T, b *Browser, scale int) backendReport {
	t.Helper()
	return eval[backendReport](t, b, fmt.Sprintf("ladleTest.backend(%d)", scale))
}

// TestGPUKernelsMatchCPU: every WebGPU kernel against the CPU reference on random
// data with zeros, ties, subnormals, NaN and infinities (the self-tests, at 16 times
// their start-up size): the merge kernels bit for bit, element by element; the forward
// kernels to float32 rounding.
func TestGPUKernelsMatchCPU(t *testing.T) {
	b := gpuPage(t, "?gpu=force")
	r := backendOf(t, b, 16)
	if !r.GPU || r.Name != "WebGPU · swiftshader" {
		t.Fatalf("backend %q (%+v), want WebGPU on SwiftShader", r.Text, r)
	}
	if len(r.Tests) != 10 {
		t.Fatalf("%d kernel tests, want 10", len(r.Tests))
	}
	for _, k := range r.Tests {
		if k.Err != "" || k.Elements == 0 || k.OnGPU == 0 {
			t.Errorf("%s: %d elements compared, %d on the GPU, error %q", k.Kernel, k.Elements, k.OnGPU, k.Err)
		}
		t.Logf("%s: %d elements compared with the CPU, %d computed on the GPU, max error %.3g", k.Kernel, k.Elements, k.OnGPU, k.MaxError)
	}
}

// TestNoWebGPUFallsBackToCPU: without --enable-unsafe-webgpu there is no adapter, and
// the backend says so; with ?gpu=auto SwiftShader (a fallback adapter) is not used; an
// unknown ?gpu= value is auto, and said to be unknown.
func TestNoWebGPUFallsBackToCPU(t *testing.T) {
	b, _ := page(t, 1)
	r := backendOf(t, b, 1)
	if r.GPU || r.Name != "CPU · WebAssembly" || !strings.Contains(r.Reason, "no WebGPU adapter") {
		t.Errorf("without WebGPU: backend %q", r.Text)
	}
	g := gpuPage(t, "")
	r = backendOf(t, g, 1)
	if r.GPU || !strings.Contains(r.Reason, "software WebGPU adapter") || !strings.Contains(r.Reason, "gpu=force") {
		t.Errorf("?gpu=auto on SwiftShader: backend %q", r.Text)
	}
	g = gpuPage(t, "?gpu=off")
	if r = backendOf(t, g, 1); r.GPU || !strings.Contains(r.Reason, "off") {
		t.Errorf("?gpu=off: backend %q", r.Text)
	}
	// a mistyped setting is auto, and the backend line says so
	g = gpuPage(t, "?gpu=froce")
	if r = backendOf(t, g, 1); r.GPU || !strings.Contains(r.Reason, "?gpu=froce is not a setting (auto, off or force)") || !strings.Contains(r.Reason, "software WebGPU adapter") {
		t.Errorf("?gpu=froce: backend %q", r.Text)
	}
}

// uniformSoup is the burn-mnist uniform soup: weights 1, so its sums run on the GPU.
const uniformSoup = `merge_method: linear
models:
  - model: run-a.pt
  - model: run-b-whole-module.pt
  - model: run-c.safetensors
`

const burnTies = `merge_method: ties
base_model: run-a.pt
models:
  - model: run-b-whole-module.pt
    parameters: {weight: 1.0, density: 0.4}
  - model: run-c.safetensors
    parameters: {weight: 0.7, density: 0.6}
parameters: {lambda: 1.0}
`

// burnTiesUnit is TIES with every weight 1: its sign election and disjoint sums run
// on the GPU too.
const burnTiesUnit = `merge_method: ties
base_model: run-a.pt
models:
  - model: run-b-whole-module.pt
    parameters: {density: 0.4}
  - model: run-c.safetensors
    parameters: {density: 0.6}
parameters: {lambda: 0.8}
`

// burnTask is task arithmetic with every weight 1: its task-vector sums run on the GPU.
const burnTask = `merge_method: task_arithmetic
base_model: run-a.pt
models:
  - model: run-b-whole-module.pt
  - model: run-c.safetensors
parameters: {lambda: 0.6}
`

// burnHalves are merges whose weights are all ½ (a power of two): a WiSE-FT halfway
// and a TIES merge, on the GPU's unit sums and TIES sums, scaled exactly.
var burnHalves = []string{`merge_method: wise_ft
models:
  - model: run-a.pt
  - model: run-b-whole-module.pt
parameters: {alpha: 0.5}
`, `merge_method: ties
base_model: run-a.pt
models:
  - model: run-b-whole-module.pt
  - model: run-c.safetensors
parameters: {density: 0.4, weight: 0.5, lambda: 1.5}
`}

func mergeBytes(t *testing.T, b *Browser, recipe string) []byte {
	t.Helper()
	done := eval[message](t, b, fmt.Sprintf("ladleTest.merge(%q)", recipe))
	if done.Type != "done" {
		t.Fatalf("merge: %v", done)
	}
	got, err := base64.StdEncoding.DecodeString(eval[string](t, b, "ladleTest.blobBase64()"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestGPUMergesAreCPUBytes: with ?gpu=force the burn-mnist uniform soup, TIES merges
// (weights 1 and other), task arithmetic, and merges weighted ½ (WiSE-FT halfway, TIES)
// computed through the WebGPU kernels are byte-identical to `ladle merge`, and the
// kernels did run (uniform sums for all 18 float tensors, TIES' selection histograms
// and sums, task-vector sums).
func TestGPUMergesAreCPUBytes(t *testing.T) {
	paths := burnFixtures(t)
	dir := filepath.Dir(paths[0])
	b := gpuPage(t, "?gpu=force")
	if r := backendOf(t, b, 1); !r.GPU {
		t.Fatalf("backend %q", r.Text)
	}
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}
	if got, want := mergeBytes(t, b, uniformSoup), nativeMerge(t, dir, uniformSoup); !bytes.Equal(got, want) {
		t.Fatalf("the GPU soup (%d bytes) differs from ladle merge's (%d bytes)", len(got), len(want))
	}
	r := backendOf(t, b, 1)
	if r.Stats == nil || r.Stats.UnitSums != 18 || r.Stats.Elements == 0 {
		t.Fatalf("the soup did not run on the GPU: %+v", r.Stats)
	}
	t.Logf("soup: %d tensors, %d elements summed on the GPU, %d of them redone on the CPU", r.Stats.UnitSums, r.Stats.Elements, r.Stats.Flagged)
	if got, want := mergeBytes(t, b, burnTies), nativeMerge(t, dir, burnTies); !bytes.Equal(got, want) {
		t.Fatalf("the GPU TIES merge (%d bytes) differs from ladle merge's (%d bytes)", len(got), len(want))
	}
	r = backendOf(t, b, 1)
	if r.Stats.Histograms == 0 {
		t.Fatalf("TIES selected nothing on the GPU: %+v", r.Stats)
	}
	t.Logf("ties: %d selection histograms on the GPU, %d declined", r.Stats.Histograms, r.Stats.Declined)
	if got, want := mergeBytes(t, b, burnTiesUnit), nativeMerge(t, dir, burnTiesUnit); !bytes.Equal(got, want) {
		t.Fatalf("the GPU TIES merge with weights 1 (%d bytes) differs from ladle merge's (%d bytes)", len(got), len(want))
	}
	before := r.Stats.Ties
	if r = backendOf(t, b, 1); r.Stats.Ties == before {
		t.Fatalf("TIES with weights 1 summed nothing on the GPU: %+v", r.Stats)
	}
	t.Logf("ties, weights 1: %d tensors' sign election and sums on the GPU (%d elements, %d redone on the CPU)", r.Stats.Ties-before, r.Stats.TiesElems, r.Stats.TiesFlag)
	if got, want := mergeBytes(t, b, burnTask), nativeMerge(t, dir, burnTask); !bytes.Equal(got, want) {
		t.Fatalf("the GPU task arithmetic (%d bytes) differs from ladle merge's (%d bytes)", len(got), len(want))
	}
	if r = backendOf(t, b, 1); r.Stats.TaskSums == 0 {
		t.Fatalf("task arithmetic summed nothing on the GPU: %+v", r.Stats)
	}
	for _, recipe := range burnHalves {
		before := r.Stats.UnitSums + r.Stats.Ties
		if got, want := mergeBytes(t, b, recipe), nativeMerge(t, dir, recipe); !bytes.Equal(got, want) {
			t.Fatalf("the GPU merge with weights ½ differs from ladle merge's:\n%s", recipe)
		}
		if r = backendOf(t, b, 1); r.Stats.UnitSums+r.Stats.Ties == before {
			t.Fatalf("the merge with weights ½ summed nothing on the GPU: %+v\n%s", r.Stats, recipe)
		}
	}
	t.Logf("task arithmetic: %d tensors' task-vector sums on the GPU", r.Stats.TaskSums)
}

// TestCorruptedKernelFallsBack: the test hook ?gpucorrupt=unit_sum flips one bit of
// the unit-sum kernel's output; the self-test catches it, the backend is the CPU with
// the reason, and the soup is still ladle merge's bytes.
func TestCorruptedKernelFallsBack(t *testing.T) {
	paths := burnFixtures(t)
	for _, kernel := range []string{"unit_sum", "key_hist", "ties", "conv", "conv_bn_relu", "log_softmax", "act"} {
		b := gpuPage(t, "?gpu=force&gpucorrupt="+kernel)
		r := backendOf(t, b, 1)
		if r.GPU || r.Name != "CPU · WebAssembly" || !strings.Contains(r.Reason, "self-test") || !strings.Contains(r.Reason, kernel) {
			t.Fatalf("%s corrupted: backend %q", kernel, r.Text)
		}
		t.Logf("%s corrupted: %s", kernel, r.Text)
		if kernel != "unit_sum" {
			continue
		}
		if err := b.SetFiles("#files", paths); err != nil {
			t.Fatal(err)
		}
		if got, want := mergeBytes(t, b, uniformSoup), nativeMerge(t, filepath.Dir(paths[0]), uniformSoup); !bytes.Equal(got, want) {
			t.Fatal("after the fallback the soup differs from ladle merge's")
		}
	}
}

// TestLostDeviceFallsBack: the test hook ?gpucorrupt=lose destroys the device after
// its self-tests pass, as a driver reset would; the backend turns to the CPU with the
// reason, and the soup is still ladle merge's bytes.
func TestLostDeviceFallsBack(t *testing.T) {
	paths := burnFixtures(t)
	b := gpuPage(t, "?gpu=force&gpucorrupt=lose")
	var r backendReport
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if r = backendOf(t, b, 1); !r.GPU {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the destroyed device is still in use: %q", r.Text)
		}
	}
	if r.Name != "CPU · WebAssembly" || !strings.Contains(r.Reason, "lost") {
		t.Fatalf("backend %q", r.Text)
	}
	t.Logf("after the loss: %s", r.Text)
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}
	if got, want := mergeBytes(t, b, uniformSoup), nativeMerge(t, filepath.Dir(paths[0]), uniformSoup); !bytes.Equal(got, want) {
		t.Fatal("after the loss the soup differs from ladle merge's")
	}
}

type evaluated struct {
	Type    string `json:"type"`
	Results []struct {
		Model    string `json:"model"`
		Accuracy string `json:"accuracy"`
		Loss     string `json:"loss"`
		N        string `json:"n"`
		Error    string `json:"error"`
	} `json:"results"`
	Seconds float64 `json:"seconds"`
	Error   *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// nativeEvaluate answers an evaluate request with the engine running natively (the
// CPU path's code, compiled for this machine): its strings are what the page's CPU
// path shows, and what `ladle eval --json` prints.
func nativeEvaluate(t *testing.T, paths []string, spec engine.EvalSpec) engine.Evaluated {
	t.Helper()
	var files []engine.File
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		files = append(files, engine.File{Name: filepath.Base(p), Size: fi.Size(), R: f})
	}
	ch := make(chan any, 1)
	eng := engine.New(engine.Env{Post: func(m any) {
		switch m.(type) {
		case engine.Evaluated, engine.Error:
			ch <- m
		}
	}})
	eng.Go(engine.Request{Type: engine.TypeEvaluate, ID: "native", Eval: &spec}, files)
	m := <-ch
	e, ok := m.(engine.Evaluated)
	if !ok {
		t.Fatalf("native evaluate: %+v", m)
	}
	return e
}

// gpuEvaluate sends the evaluate request to the page's worker.
func gpuEvaluate(t *testing.T, b *Browser, paths []string, spec engine.EvalSpec) evaluated {
	t.Helper()
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(spec)
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Minute)
	defer cancel()
	e, err := EvalCtx[evaluated](ctx, b, fmt.Sprintf(`ladleTest.request({type: "evaluate", files: ladleTest.files(), eval: %s})`, js))
	if err != nil || e.Type != "evaluated" {
		t.Fatalf("evaluate: %+v, %v", e, err)
	}
	return e
}

func compareEvaluations(t *testing.T, gpu evaluated, cpu engine.Evaluated) {
	t.Helper()
	if len(gpu.Results) != len(cpu.Results) {
		t.Fatalf("%d results on the GPU, %d on the CPU", len(gpu.Results), len(cpu.Results))
	}
	for i, r := range gpu.Results {
		w := cpu.Results[i]
		gl, _ := strconv.ParseFloat(r.Loss, 64)
		wl, _ := strconv.ParseFloat(w.Loss, 64)
		if r.Error != "" || w.Error != "" || r.N != w.N || r.Accuracy != w.Accuracy || math.Abs(gl-wl) > 1e-5*math.Abs(wl) {
			t.Errorf("%s: WebGPU accuracy %s loss %s n %s (%s), CPU accuracy %s loss %s n %s (%s)", r.Model, r.Accuracy, r.Loss, r.N, r.Error, w.Accuracy, w.Loss, w.N, w.Error)
		}
		t.Logf("%s on %s samples: WebGPU accuracy %s loss %s; CPU accuracy %s loss %s", r.Model, r.N, r.Accuracy, r.Loss, w.Accuracy, w.Loss)
	}
}

// soupsLab lists the soups lab's files (pre-trained model, ten fine-tunes, dataset)
// and an evaluate request of the models and their uniform soup merged in the worker.
func soupsLab(t *testing.T) ([]string, engine.EvalSpec) {
	t.Helper()
	lab := filepath.Join("..", "..", "public", "labs", "soups")
	var paths, models []string
	for _, n := range []string{"pre", "finetune-01", "finetune-02", "finetune-03", "finetune-04", "finetune-05", "finetune-06", "finetune-07", "finetune-08", "finetune-09", "finetune-10"} {
		paths = append(paths, filepath.Join(lab, n+".safetensors"))
		models = append(models, n+".safetensors")
	}
	paths = append(paths, filepath.Join(lab, "data.safetensors"))
	uniform, err := os.ReadFile(filepath.Join(lab, "uniform.yaml"))
	if err != nil {
		t.Skipf("no soups lab: %v", err)
	}
	return paths, engine.EvalSpec{Models: models, Recipes: []engine.NamedRecipe{{Name: "uniform soup", Recipe: string(uniform)}}, Data: "data.safetensors"}
}

// TestGPUEvaluationSoupsLab evaluates the soups lab (its pre-trained model, ten
// fine-tunes and their uniform soup merged in the worker) with ?gpu=force: the same
// accuracies as the CPU path and losses within 1e-5 relative.
func TestGPUEvaluationSoupsLab(t *testing.T) {
	paths, spec := soupsLab(t)
	b := gpuPage(t, "?gpu=force")
	if r := backendOf(t, b, 1); !r.GPU {
		t.Fatalf("backend %q", r.Text)
	}
	before := backendOf(t, b, 1).Stats
	gpu := gpuEvaluate(t, b, paths, spec)
	after := backendOf(t, b, 1).Stats
	if after.Forward == before.Forward || after.UnitSums == before.UnitSums {
		t.Fatalf("the evaluation did not run on the GPU: %+v, then %+v", before, after)
	}
	compareEvaluations(t, gpu, nativeEvaluate(t, paths, spec))
}

// TestGPUWorkerAnswersWhileKernelsRun: a WebGPU worker takes requests while its
// kernels wait for the GPU, as the page sends them (a second Evaluate while the
// result's evaluation runs, a cancel, memory polls): every request is answered, the
// cancelled evaluation says so, and the first evaluation's figures are the CPU's.
// (The worker used to take its device's lock in the message handler, to check for a
// lost device, while a kernel held that lock awaiting its readback: the JS event loop
// could not run the promise's callback, Go found every goroutine asleep and the
// worker's program stopped.)
func TestGPUWorkerAnswersWhileKernelsRun(t *testing.T) {
	paths, spec := soupsLab(t)
	b := gpuPage(t, "?gpu=force")
	if r := backendOf(t, b, 1); !r.GPU {
		t.Fatalf("backend %q", r.Text)
	}
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(spec)
	ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Minute)
	defer cancel()
	type busy struct {
		evaluated
		Sent, Answered int
		Second         string
		SecondError    any
	}
	r, err := EvalCtx[busy](ctx, b, fmt.Sprintf(`ladleTest.evaluateWhileBusy(%s, 3)`, js))
	if err != nil {
		log, _ := Eval[string](b, `JSON.stringify({errors: ladleTest.errors, pending: ladleTest.pending.size, log: ladleTest.log.slice(-12)})`)
		t.Fatalf("%v\n%s", err, log)
	}
	if r.Type != "evaluated" {
		t.Fatalf("the evaluation ended with %q: %+v", r.Type, r.Error)
	}
	if r.Answered != r.Sent || r.Sent < 2 {
		t.Errorf("%d of %d requests sent during the evaluation were answered", r.Answered, r.Sent)
	}
	if r.Second != "cancelled" {
		t.Errorf("the evaluation cancelled mid-way ended with %q (%v)", r.Second, r.SecondError)
	}
	t.Logf("%d requests answered while the GPU evaluated; the second evaluation: %s", r.Answered, r.Second)
	compareEvaluations(t, r.evaluated, nativeEvaluate(t, paths, spec))
	// and the worker still computes on the GPU
	if st := backendOf(t, b, 1); !st.GPU {
		t.Errorf("after the overlapping requests: backend %q", st.Text)
	}
}

// TestGPUEvaluationBurnMNIST evaluates the burn-mnist uniform soup, merged on the GPU,
// on the 10,000 real MNIST test images with its forward pass on the GPU: the CPU's
// accuracy, and its loss to 1e-5 relative. On SwiftShader (a CPU emulation) this takes
// minutes; LADLE_SKIP_SLOW_GPU=1 skips it.
func TestGPUEvaluationBurnMNIST(t *testing.T) {
	if os.Getenv("LADLE_SKIP_SLOW_GPU") != "" {
		t.Skip("LADLE_SKIP_SLOW_GPU is set")
	}
	paths := burnFixtures(t)
	data := mnistFile(t)
	arch, err := os.ReadFile(filepath.Join("..", "..", "core", "eval", "testdata", "burn-mnist.arch.json"))
	if err != nil {
		t.Fatal(err)
	}
	spec := engine.EvalSpec{Recipes: []engine.NamedRecipe{{Name: "soup", Recipe: uniformSoup}}, Data: filepath.Base(data), Arch: string(arch)}
	all := append(append([]string{}, paths...), data)
	b := gpuPage(t, "?gpu=force")
	if r := backendOf(t, b, 1); !r.GPU {
		t.Fatalf("backend %q", r.Text)
	}
	start := time.Now()
	gpu := gpuEvaluate(t, b, all, spec)
	st := backendOf(t, b, 1).Stats
	// five passes a batch (conv1, conv2, conv3 with its batchnorm, fc1, fc2 with its
	// batchnorm and the log_softmax: every layer), ten batches of 1024
	if st.Forward < 5*10 || st.LogSoftmax < 10 {
		t.Errorf("only %d layer passes ran on the GPU, %d with the log_softmax", st.Forward, st.LogSoftmax)
	}
	t.Logf("WebGPU (SwiftShader): %.0f s for the merge and 10,000 images", time.Since(start).Seconds())
	compareEvaluations(t, gpu, nativeEvaluate(t, all, spec))
}

// mnistFile is the real MNIST test set as a Ladle dataset (MNISTFile), or a skip.
func mnistFile(t *testing.T) string {
	t.Helper()
	path, err := MNISTFile()
	if err != nil {
		t.Skip(err)
	}
	return path
}
