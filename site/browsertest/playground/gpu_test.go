package playground

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ladle/site/browsertest"
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
