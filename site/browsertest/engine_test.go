package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	_ "ladle/core/ckpt/all"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/safetensors"
	"ladle/core/plan"
	"ladle/core/recipe"
)

// One browser and one server serve every test of the package; each test loads the
// page afresh (new workers).
var (
	shared     sync.Once
	sharedB    *Browser
	sharedSrv  *Server
	sharedErr  error
	sharedSkip string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedB != nil {
		sharedB.Close()
	}
	if sharedSrv != nil {
		sharedSrv.Close()
	}
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// page returns the browser on a freshly loaded test page with n engine workers ready.
func page(t *testing.T, workers int) (*Browser, *Server) {
	t.Helper()
	shared.Do(func() {
		exe := FindChromium()
		if exe == "" {
			sharedSkip = "browser test skipped: no Chromium found (install it, e.g. `apt-get install -y chromium`, or set LADLE_CHROMIUM); CI installs it"
			return
		}
		dist, err := BuildDist(context.Background(), nil)
		if err != nil {
			sharedErr = fmt.Errorf("building the playground: %w", err)
			return
		}
		if sharedSrv, err = Serve(Overlay(TestPage(), os.DirFS(dist))); err != nil {
			sharedErr = err
			return
		}
		sharedB, sharedErr = Start(context.Background(), Options{Exec: exe})
	})
	if sharedSkip != "" {
		t.Skip(sharedSkip)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	if err := sharedB.Navigate(sharedSrv.URL + "/enginetest.html"); err != nil {
		t.Fatal(err)
	}
	if n, err := Eval[int](sharedB, fmt.Sprintf("ladleTest.start(%d)", workers)); err != nil || n != workers {
		t.Fatalf("starting %d engine workers: %d, %v", workers, n, err)
	}
	return sharedB, sharedSrv
}

func eval[T any](t *testing.T, b *Browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	v, err := EvalCtx[T](ctx, b, expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func burnFixtures(t *testing.T) []string {
	var paths []string
	for _, n := range []string{"run-a.pt", "run-b-whole-module.pt", "run-c.safetensors"} {
		paths = append(paths, ckpttest.Fixture(t, filepath.Join("burn-mnist", n)))
	}
	return paths
}

const burnSoup = `merge_method: linear
models:
  - model: run-a.pt
  - model: run-b-whole-module.pt
    parameters: {weight: 2.0}
  - model: run-c.safetensors
parameters: {normalize: true}
`

// nativeMerge runs the recipe with the core, as `ladle merge` does, over files in dir.
func nativeMerge(t *testing.T, dir, text string) []byte {
	t.Helper()
	r, err := recipe.Parse([]byte(text), filepath.Join(dir, "recipe.yaml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Prepare(r, plan.FileOpener(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, p.OutputTensors(), p.Metadata(plan.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(context.Background(), w, plan.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type message struct {
	Type          string  `json:"type"`
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	BlobSize      int64   `json:"blobSize"`
	BlobType      string  `json:"blobType"`
	ProgressCount int     `json:"progressCount"`
	MaxWasm       int64   `json:"maxWasm"`
	LastProgress  *struct {
		TensorsDone  int   `json:"tensorsDone"`
		TensorsTotal int   `json:"tensorsTotal"`
		BytesDone    int64 `json:"bytesDone"`
		BytesTotal   int64 `json:"bytesTotal"`
	} `json:"lastProgress"`
	Error *struct {
		Message string `json:"message"`
		File    string `json:"file"`
		Tensor  string `json:"tensor"`
		Where   string `json:"where"`
	} `json:"error"`
	Models []struct {
		Name    string `json:"name"`
		Format  string `json:"format"`
		Tensors []struct {
			Name  string  `json:"name"`
			DType string  `json:"dtype"`
			Shape []int64 `json:"shape"`
		} `json:"tensors"`
		Parameters int64 `json:"parameters"`
	} `json:"models"`
	Methods []struct {
		Name string `json:"name"`
	} `json:"methods"`
}

func (m message) String() string {
	if m.Error != nil {
		return fmt.Sprintf("%s %q (file %q, tensor %q, where %q)", m.Type, m.Error.Message, m.Error.File, m.Error.Tensor, m.Error.Where)
	}
	return m.Type
}

func TestEngineInspectsAndMergesLikeNative(t *testing.T) {
	paths := burnFixtures(t)
	b, srv := page(t, 2)
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}
	methods := eval[message](t, b, "ladleTest.methods()")
	if methods.Type != "methods" || len(methods.Methods) < 5 {
		t.Fatalf("methods: %v, %d", methods, len(methods.Methods))
	}
	ins := eval[message](t, b, "ladleTest.inspect()")
	if ins.Type != "inspected" || len(ins.Models) != 3 {
		t.Fatalf("inspect: %v, %d models", ins, len(ins.Models))
	}
	for i, m := range ins.Models {
		if m.Name != filepath.Base(paths[i]) || len(m.Tensors) != 20 || m.Parameters == 0 {
			t.Errorf("model %d: %s (%s) %d tensors, %d parameters", i, m.Name, m.Format, len(m.Tensors), m.Parameters)
		}
	}
	net := b.RecordNetwork()
	defer net.Stop()
	// A control worker that fetches when asked shows that the recording sees the
	// requests of the page and of its workers.
	eval[bool](t, b, `(ladleTest.control = new Worker(URL.createObjectURL(new Blob(["onmessage = () => fetch('" + location.origin + "/control-worker.txt').catch(() => {})"], {type: "text/javascript"}))), true)`)
	if err := net.WatchWorkers(b); err != nil {
		t.Fatal(err)
	}
	eval[bool](t, b, `(ladleTest.control.postMessage("go"), fetch("control-page.txt").catch(() => {}), true)`)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		seen := map[string]bool{}
		for _, r := range net.Requests() {
			seen[r.Target+" "+filepath.Base(r.URL)] = true
		}
		served := 0
		for _, r := range srv.Requests() {
			if strings.HasPrefix(r.Path, "/control-") {
				served++
			}
		}
		if seen["page control-page.txt"] && hasPrefix(seen, "worker ", "control-worker.txt") && served == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the network recording missed the control requests; it saw:\n%s", String(net.Requests()))
		}
	}
	eval[bool](t, b, "(ladleTest.control.terminate(), true)")
	before := len(srv.Requests())
	start := time.Now()
	done := eval[message](t, b, fmt.Sprintf("ladleTest.merge(%q)", burnSoup))
	if done.Type != "done" {
		t.Fatalf("merge: %v", done)
	}
	got, err := base64.StdEncoding.DecodeString(eval[string](t, b, "ladleTest.blobBase64()"))
	if err != nil {
		t.Fatal(err)
	}
	// (e) privacy: no request during the merge, from the page or its workers
	if reqs := net.Since(start); len(reqs) > 0 {
		t.Errorf("the page made %d network request(s) during the merge:\n%s", len(reqs), String(reqs))
	}
	if after := srv.Requests(); len(after) != before {
		t.Errorf("the server got %d request(s) during the merge: %v", len(after)-before, after[before:])
	}
	want := nativeMerge(t, filepath.Dir(paths[0]), burnSoup)
	if !bytes.Equal(got, want) {
		t.Fatalf("the browser's merge (%d bytes) differs from the native one (%d bytes)", len(got), len(want))
	}
	if done.Bytes != int64(len(want)) || done.BlobSize != int64(len(want)) || done.BlobType != "application/octet-stream" || done.Name != "merged.safetensors" {
		t.Errorf("done: bytes %d, blob %d %q, name %q", done.Bytes, done.BlobSize, done.BlobType, done.Name)
	}
	if done.ProgressCount == 0 || done.LastProgress == nil || done.LastProgress.TensorsDone != 20 || done.LastProgress.BytesDone != done.LastProgress.BytesTotal || done.MaxWasm == 0 {
		t.Errorf("progress: %d messages, last %+v, wasm memory %d", done.ProgressCount, done.LastProgress, done.MaxWasm)
	}
	// the same merge split over the two workers, stitched by the page
	split := eval[message](t, b, fmt.Sprintf("ladleTest.mergeSplit(%q, 2)", burnSoup))
	if split.Type != "done" {
		t.Fatalf("split merge: %v", split)
	}
	got2, _ := base64.StdEncoding.DecodeString(eval[string](t, b, "ladleTest.blobBase64()"))
	if !bytes.Equal(got2, want) {
		t.Fatalf("the merge split over 2 workers (%d bytes) differs from the native one (%d bytes)", len(got2), len(want))
	}
	// the result written to the origin private file system instead of memory
	opfs := eval[message](t, b, fmt.Sprintf(`ladleTest.merge(%q, {storage: "opfs"})`, burnSoup))
	if opfs.Type != "done" {
		t.Fatalf("merge into OPFS: %v", opfs)
	}
	got3, _ := base64.StdEncoding.DecodeString(eval[string](t, b, "ladleTest.blobBase64()"))
	if !bytes.Equal(got3, want) {
		t.Fatalf("the merge written to OPFS (%d bytes) differs from the native one (%d bytes)", len(got3), len(want))
	}
	if isFile := eval[bool](t, b, "ladleTest.lastBlob instanceof File"); !isFile {
		t.Error("the OPFS result is not a File of the origin private file system")
	}
	if reqs := net.Since(start); len(reqs) > 0 {
		t.Errorf("the page made network requests during the merges:\n%s", String(reqs))
	}
}

func TestHostileFileGivesStructuredErrorAndWorkerGoesOn(t *testing.T) {
	paths := burnFixtures(t)
	dir := t.TempDir()
	good, err := os.ReadFile(paths[2])
	if err != nil {
		t.Fatal(err)
	}
	hostile := filepath.Join(dir, "hostile.safetensors")
	lying := append([]byte(nil), good...)
	lying = lying[:len(lying)/2] // the header promises more data than the file holds
	if err := os.WriteFile(hostile, lying, 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.pt")
	if err := os.WriteFile(junk, append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0xff}, 300)...), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := page(t, 1)
	if err := b.SetFiles("#files", []string{paths[0], hostile, junk}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ expr, file string }{
		{`ladleTest.inspect([ladleTest.files()[1]])`, "hostile.safetensors"},
		{`ladleTest.inspect([ladleTest.files()[2]])`, "junk.pt"},
		{fmt.Sprintf("ladleTest.merge(%q)", "merge_method: linear\nmodels:\n  - model: run-a.pt\n  - model: hostile.safetensors\n"), "hostile.safetensors"},
	} {
		m := eval[message](t, b, c.expr)
		if m.Type != "error" || m.Error == nil || m.Error.File != c.file || m.Error.Message == "" {
			t.Errorf("%s: %v", c.expr, m)
		}
	}
	// a recipe mistake names where it is
	m := eval[message](t, b, fmt.Sprintf("ladleTest.merge(%q)", "merge_method: linear\nmodels:\n  - model: run-a.pt\n    parameters: {wieght: 1}\n"))
	if m.Type != "error" || m.Error.Where != "models[0].parameters.wieght" {
		t.Errorf("recipe mistake: %v", m)
	}
	// the worker keeps working
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}
	if m := eval[message](t, b, "ladleTest.inspect()"); m.Type != "inspected" || len(m.Models) != 3 {
		t.Fatalf("after the errors: %v", m)
	}
	if m := eval[message](t, b, fmt.Sprintf("ladleTest.merge(%q)", burnSoup)); m.Type != "done" {
		t.Fatalf("after the errors: %v", m)
	}
}

// bigModels writes generated checkpoints large enough that a merge takes a while.
var (
	bigOnce  sync.Once
	bigDir   string
	bigPaths []string
	bigErr   error
)

func bigModels(t *testing.T) []string {
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "ladle-browsertest-")
		if bigErr == nil {
			bigPaths, bigErr = WriteModels(bigDir, 3, 48<<20)
		}
	})
	if bigErr != nil {
		t.Fatal(bigErr)
	}
	return bigPaths
}

const bigSoup = `merge_method: linear
models:
  - model: a.safetensors
  - model: b.safetensors
  - model: c.safetensors
`

func TestCancelMidMerge(t *testing.T) {
	b, _ := page(t, 1)
	paths := bigModels(t)
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}
	m := eval[message](t, b, fmt.Sprintf("ladleTest.mergeAndCancel(%q)", bigSoup))
	if m.Type != "cancelled" || m.BlobSize != 0 {
		t.Fatalf("cancel: got %v (blob %d bytes)", m, m.BlobSize)
	}
	if has := eval[bool](t, b, "ladleTest.lastBlob !== null"); has {
		t.Error("a cancelled merge left a result")
	}
	if m.LastProgress != nil && m.LastProgress.TensorsDone >= m.LastProgress.TensorsTotal {
		t.Errorf("the merge finished before the cancel arrived: %+v", m.LastProgress)
	}
	// the worker is free for the next request
	if m := eval[message](t, b, "ladleTest.inspect()"); m.Type != "inspected" {
		t.Fatalf("after cancel: %v", m)
	}
}

func TestPageStaysResponsiveDuringMerge(t *testing.T) {
	b, _ := page(t, 1)
	paths := bigModels(t)
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}
	eval[bool](t, b, "ladleTest.startProbe()")
	// not awaited: the merge runs while the clicks come
	eval[bool](t, b, fmt.Sprintf("(ladleTest.running = ladleTest.merge(%q).then((m) => (ladleTest.result = m)), true)", bigSoup))
	var clicks []time.Duration
	for i := 0; ; i++ {
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		if err := chromedp.Do(b.Ctx, chromedp.Click(chromedp.CSS("#ping"))); err != nil {
			t.Fatal(err)
		}
		clicks = append(clicks, time.Since(start))
		if eval[bool](t, b, "ladleTest.result !== undefined") {
			break
		}
		if i > 1000 {
			t.Fatal("the merge did not end")
		}
	}
	m := eval[message](t, b, "ladleTest.running")
	if m.Type != "done" {
		t.Fatalf("merge: %v", m)
	}
	type probe struct {
		MaxTimerGap float64   `json:"maxTimerGap"`
		MaxFrameGap float64   `json:"maxFrameGap"`
		Frames      int       `json:"frames"`
		Ticks       int       `json:"ticks"`
		Clicks      []float64 `json:"clicks"`
	}
	p := eval[probe](t, b, "ladleTest.stopProbe()")
	t.Logf("merge %.2fs; page thread: max timer gap %.0f ms, max frame gap %.0f ms, %d frames; %d clicks handled, in-page delay max %.1f ms; click round trips %v",
		m.Seconds, p.MaxTimerGap, p.MaxFrameGap, p.Frames, len(p.Clicks), maxOf(p.Clicks), clicks)
	if len(p.Clicks) != len(clicks) || len(clicks) < 3 {
		t.Errorf("%d clicks sent, %d handled (the merge took %.2fs)", len(clicks), len(p.Clicks), m.Seconds)
	}
	if p.MaxTimerGap > 200 {
		t.Errorf("a 10 ms timer on the page thread was held up for %.0f ms during the merge", p.MaxTimerGap)
	}
	if d := maxOf(p.Clicks); d > 200 {
		t.Errorf("a click waited %.0f ms for its handler during the merge", d)
	}
	// The round trip adds DevTools and the test's own scheduling on a loaded machine;
	// the in-page delay above is the 200 ms criterion. A frozen page would still show
	// here as round trips of seconds.
	for _, c := range clicks {
		if c > time.Second {
			t.Errorf("a click took %v to come back from the page during the merge", c)
		}
	}
}

// hasPrefix reports whether seen has a key "PREFIX... SUFFIX".
func hasPrefix(seen map[string]bool, prefix, suffix string) bool {
	for k := range seen {
		if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, " "+suffix) {
			return true
		}
	}
	return false
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func TestProductPageLoadsWithItsHeaders(t *testing.T) {
	b, srv := page(t, 1)
	resp, err := chromedp.Run(b.Ctx, chromedp.NavigateResponse(srv.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{}
	for k, v := range resp.Headers {
		h[strings.ToLower(k)] = fmt.Sprint(v)
	}
	if resp.Status != 200 || !strings.HasPrefix(h["content-type"], "text/html") || !strings.Contains(h["content-security-policy"], "default-src 'self'") ||
		h["x-content-type-options"] != "nosniff" || h["cache-control"] != "no-cache" || h["etag"] == "" {
		t.Errorf("index.html: %d %v", resp.Status, h)
	}
	title, err := chromedp.Run(b.Ctx, chromedp.Title())
	if err != nil || !strings.Contains(title, "Ladle") {
		t.Errorf("title %q, %v", title, err)
	}
	type asset struct {
		Status   int    `json:"status"`
		Type     string `json:"type"`
		Encoding string `json:"encoding"`
	}
	for path, want := range map[string]string{"engine.wasm": "application/wasm", "wasm_exec.js": "text/javascript; charset=utf-8",
		"engine.js": "text/javascript; charset=utf-8", "css/ladle.css": "text/css; charset=utf-8", "icons/ladle.svg": "image/svg+xml"} {
		a := eval[asset](t, b, fmt.Sprintf(`fetch(%q).then((r) => ({status: r.status, type: r.headers.get("content-type"), encoding: r.headers.get("content-encoding") || ""}))`, path))
		if a.Status != 200 || a.Type != want {
			t.Errorf("%s: %+v, want %s", path, a, want)
		}
	}
	// the CSP stops requests to other origins (and reports the directive)
	blocked := eval[string](t, b, `new Promise((resolve) => {
		document.addEventListener("securitypolicyviolation", (e) => resolve(e.effectiveDirective));
		fetch("http://192.0.2.1/upload", {method: "POST", body: "weights"}).catch(() => {});
		setTimeout(() => resolve("no violation"), 3000);
	})`)
	if blocked != "connect-src" {
		t.Errorf("a cross-origin fetch: %s", blocked)
	}
	// the engine worker starts from the product page's assets too (CSP allows wasm)
	if m := eval[message](t, b, `new Promise((resolve) => { const w = new Worker("engine.js"); w.onmessage = (e) => { if (e.data.type === "ready") w.postMessage({type: "methods", id: "m"}); else { resolve(e.data); w.terminate(); } }; })`); m.Type != "methods" {
		t.Errorf("engine worker on the product page: %v", m)
	}
}
