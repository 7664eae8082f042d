package browsertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
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

var _ = os.Getenv
