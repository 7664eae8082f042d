package playground

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"ladle/site/browsertest"
	"ladle/ui/state"
)

// The playground's compute backend: a second Chromium started with
// --enable-unsafe-webgpu offers SwiftShader's WebGPU adapter; ?gpu=force lets the page
// use it, and the `backend` hook says what computes and why.

var (
	gpuOnce sync.Once
	gpuB    *browsertest.Browser
	gpuErr  error
)

const backendText = `document.querySelector('[data-testid=backend]').textContent`

func openGPUPage(t *testing.T, query string) *browsertest.Browser {
	t.Helper()
	openPage(t) // the shared server and dist, and the skip without Chromium
	gpuOnce.Do(func() {
		gpuB, gpuErr = browsertest.Start(context.Background(), browsertest.Options{Exec: browsertest.FindChromium(), WebGPU: true})
	})
	if gpuErr != nil {
		t.Fatal(gpuErr)
	}
	navigate(t, gpuB, sharedSrv.URL+"/"+query)
	waitFor(t, gpuB, backendText+`.indexOf('looking for') < 0`, 60*time.Second)
	return gpuB
}

const gpuSoup = "merge_method: linear\nmodels:\n  - model: run-a.pt\n  - model: run-b-whole-module.pt\n  - model: run-c.safetensors\n"

func runAndDownload(t *testing.T, b *browsertest.Browser, paths []string, recipe string) []byte {
	t.Helper()
	setFiles(t, b, paths)
	waitFor(t, b, modelsListed(paths), 30*time.Second)
	typeRecipe(t, b, recipe)
	waitFor(t, b, runEnabled, 10*time.Second)
	click(t, b, "run")
	waitFor(t, b, hasResult, 120*time.Second)
	return download(t, b)
}

// TestPlaygroundWebGPUSoup: with ?gpu=force the page computes on SwiftShader's
// WebGPU, says so, and the downloaded burn-mnist soup is `ladle merge`'s bytes.
func TestPlaygroundWebGPUSoup(t *testing.T) {
	paths := burnFixtures(t)
	b := openGPUPage(t, "?gpu=force")
	if got := eval[string](t, b, backendText); got != "WebGPU · swiftshader — a software adapter (CPU emulation), used because of ?gpu=force" {
		t.Fatalf("backend: %q", got)
	}
	got := runAndDownload(t, b, paths, gpuSoup)
	if want := nativeMerge(t, filepath.Dir(paths[0]), gpuSoup); !bytes.Equal(got, want) {
		t.Fatalf("the WebGPU soup (%d bytes) differs from ladle merge's (%d bytes)", len(got), len(want))
	}
}

// TestPlaygroundCorruptKernelFallsBack: the test hook that flips a bit of the
// unit-sum kernel's output makes the self-test fail; the page says the CPU computes
// and why, and the soup is still ladle merge's bytes.
func TestPlaygroundCorruptKernelFallsBack(t *testing.T) {
	paths := burnFixtures(t)
	b := openGPUPage(t, "?gpu=force&gpucorrupt=unit_sum")
	got := eval[string](t, b, backendText)
	for _, want := range []string{"CPU · WebAssembly", "self-test", "unit_sum", "swiftshader"} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Fatalf("backend %q lacks %q", got, want)
		}
	}
	soup := runAndDownload(t, b, paths, gpuSoup)
	if want := nativeMerge(t, filepath.Dir(paths[0]), gpuSoup); !bytes.Equal(soup, want) {
		t.Fatal("after the fallback the soup differs from ladle merge's")
	}
}

// TestPlaygroundWithoutWebGPU: a browser without WebGPU computes on the CPU, and the
// page says no adapter was found.
func TestPlaygroundWithoutWebGPU(t *testing.T) {
	b := openPage(t)
	waitFor(t, b, backendText+`.indexOf('looking for') < 0`, 30*time.Second)
	if got := eval[string](t, b, backendText); got != "CPU · WebAssembly — no WebGPU adapter found" {
		t.Errorf("backend: %q", got)
	}
}

// evalRows reads the Evaluate table: model → "accuracy loss n".
const evalRows = `Object.fromEntries(Array.from(document.querySelectorAll('[data-testid=eval-row]')).map((r) => [r.dataset.model, [r.dataset.accuracy, r.dataset.loss, r.dataset.n]]))`

// TestPlaygroundWebGPUEvaluate: the soups lab's Evaluate table computed with
// ?gpu=force (soup merged and forward passes on SwiftShader) shows the CPU page's
// accuracies, and losses within 1e-5 relative. Evaluate is clicked while the
// result's own evaluation, started by the merge, may still run in a worker: that
// used to stop a WebGPU worker's program (see TestGPUWorkerAnswersWhileKernelsRun).
func TestPlaygroundWebGPUEvaluate(t *testing.T) {
	cpuPage := openPage(t)
	if !eval[bool](t, cpuPage, `document.querySelector('[data-testid=evaluate]') !== null && document.querySelector('[data-testid=dataset-select]') !== null`) {
		t.Skip("the page has no Evaluate button yet")
	}
	const evalIdle = `!document.querySelector('[data-testid=evaluate]').disabled`
	table := func(b *browsertest.Browser) map[string][]string {
		click(t, b, "lab-soups")
		waitFor(t, b, modelsListed([]string{"finetune-10.safetensors"})+
			` && document.querySelector('[data-testid=dataset-select]').value === 'data.safetensors'`, 60*time.Second)
		waitFor(t, b, runEnabled, 10*time.Second)
		click(t, b, "run")
		waitFor(t, b, hasResult+" || "+errorVisible, 120*time.Second)
		if eval[bool](t, b, errorVisible) {
			t.Fatalf("the uniform soup failed\n%s", pageState(b))
		}
		waitFor(t, b, evalIdle, 10*time.Second)
		click(t, b, "evaluate")
		waitFor(t, b, evalIdle+` && document.querySelectorAll('[data-testid=eval-row]').length >= 12 && Array.from(document.querySelectorAll('[data-testid=eval-row]')).every((r) => r.dataset.accuracy) || `+errorVisible, 300*time.Second)
		if eval[bool](t, b, errorVisible) {
			t.Fatalf("Evaluate failed\n%s", pageState(b))
		}
		return eval[map[string][]string](t, b, evalRows)
	}
	cpu := table(cpuPage)
	g := openGPUPage(t, "?gpu=force")
	if got := eval[string](t, g, backendText); !bytes.HasPrefix([]byte(got), []byte("WebGPU · swiftshader")) {
		t.Fatalf("backend %q", got)
	}
	gpu := table(g)
	if len(gpu) != len(cpu) || len(cpu) < 12 {
		t.Fatalf("rows: WebGPU %v, CPU %v", gpu, cpu)
	}
	for model, w := range cpu {
		r := gpu[model]
		if len(r) != 3 || r[0] != w[0] || r[2] != w[2] || !closeLoss(r[1], w[1]) {
			t.Errorf("%s: WebGPU %v, CPU %v", model, r, w)
		}
	}
	// Merged again, the result alone is evaluated at once, split over the WebGPU
	// workers: the same figures as the CPU's whole evaluation, the loss within 1e-5.
	click(t, g, "run")
	waitFor(t, g, `!`+hasRow(state.ResultName)+` || `+errorVisible, 60*time.Second)
	waitFor(t, g, hasRow(state.ResultName)+` && `+evalIdle+` || `+errorVisible, 120*time.Second)
	if eval[bool](t, g, errorVisible) {
		t.Fatalf("the merge or its evaluation failed\n%s", pageState(g))
	}
	split := eval[map[string]string](t, g, rowAttrs(state.ResultName))
	w := cpu[state.ResultName]
	if len(w) != 3 || split["accuracy"] != w[0] || split["n"] != w[2] || !closeLoss(split["loss"], w[1]) {
		t.Errorf("the result split over the WebGPU workers: %v; CPU %v", split, w)
	}
	workers := eval[string](t, g, `document.querySelector('[data-testid=eval-status]').dataset.workers`)
	if pool := eval[int](t, g, `Math.min(navigator.hardwareConcurrency, 4)`); workers != fmt.Sprint(pool) {
		t.Errorf("the result's evaluation took %s workers; the page has %d", workers, pool)
	}
}

func closeLoss(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && math.Abs(x-y) <= 1e-5*math.Abs(y)
}

// TestPlaygroundWebGPUEvaluateBurnMNIST: a burn-mnist checkpoint, its ARCH.json and the
// 10,000 real MNIST test images dropped on the page opened with ?gpu=force, Evaluate
// clicked as a person would: the forward passes run on SwiftShader's WebGPU (every
// layer of this network: TestGPUEvaluationBurnMNIST counts them in the worker), and
// the table shows `ladle eval --json`'s accuracy digit for digit and its loss within
// 1e-5 relative. Minutes on SwiftShader (a CPU emulation);
// LADLE_SKIP_SLOW_GPU=1 skips it.
func TestPlaygroundWebGPUEvaluateBurnMNIST(t *testing.T) {
	if os.Getenv("LADLE_SKIP_SLOW_GPU") != "" {
		t.Skip("LADLE_SKIP_SLOW_GPU is set")
	}
	data, err := browsertest.MNISTFile()
	if err != nil {
		t.Skip(err)
	}
	model := burnFixtures(t)[0]
	arch, err := filepath.Abs(filepath.Join("..", "..", "..", "core", "eval", "testdata", "burn-mnist.arch.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := ladleEvalJSON(t, model, data, "", "--arch", arch)
	g := openGPUPage(t, "?gpu=force")
	if got := eval[string](t, g, backendText); !bytes.HasPrefix([]byte(got), []byte("WebGPU · swiftshader")) {
		t.Fatalf("backend %q", got)
	}
	setFiles(t, g, []string{model, arch, data})
	name := filepath.Base(model)
	waitFor(t, g, modelsListed([]string{name})+fmt.Sprintf(` && document.querySelector('[data-testid=dataset-select]').value === %q`, filepath.Base(data)), 60*time.Second)
	waitFor(t, g, evalIdle, 30*time.Second)
	start := time.Now()
	click(t, g, "evaluate")
	waitFor(t, g, hasRow(name)+` && `+evalIdle+` || `+errorVisible, 15*time.Minute)
	if eval[bool](t, g, errorVisible) {
		t.Fatalf("Evaluate failed\n%s", pageState(g))
	}
	got := eval[map[string]string](t, g, rowAttrs(name))
	t.Logf("WebGPU (SwiftShader) in the page: %.0f s for 10,000 images: %v; ladle eval: %v", time.Since(start).Seconds(), got, want)
	if got["accuracy"] != want["accuracy"] || got["n"] != want["n"] || !closeLoss(got["loss"], want["loss"]) {
		t.Errorf("the page on WebGPU shows %v; ladle eval --json prints %v", got, want)
	}
	if got := eval[string](t, g, backendText); !bytes.HasPrefix([]byte(got), []byte("WebGPU · swiftshader")) {
		t.Errorf("after the evaluation the backend is %q", got)
	}
}
