package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) { // ends once both are seen
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

// probeResult is what ladleTest.stopProbe reports of the page thread.
type probeResult struct {
	MaxTimerGap float64 `json:"maxTimerGap"`
	TimerGaps   []struct {
		Start float64 `json:"start"`
		Gap   float64 `json:"gap"`
	} `json:"timerGaps"`
	MaxFrameGap float64   `json:"maxFrameGap"`
	Frames      int       `json:"frames"`
	Ticks       int       `json:"ticks"`
	Clicks      []float64 `json:"clicks"`
	LongTasks   []struct {
		Start    float64 `json:"start"`
		Duration float64 `json:"duration"`
		Name     string  `json:"name"`
	} `json:"longTasks"`
	LongTaskAPI bool    `json:"longTaskAPI"`
	Seconds     float64 `json:"seconds"`
}

// longest is the longest long task's duration and the long tasks' total, in ms.
func (p probeResult) longest() (longest, total float64) {
	for _, lt := range p.LongTasks {
		longest = max(longest, lt.Duration)
		total += lt.Duration
	}
	return longest, total
}

// stalled is the time, in ms, the 10 ms timer was late by more than 50 ms, summed.
func (p probeResult) stalled() float64 {
	s := 0.0
	for _, g := range p.TimerGaps {
		s += g.Gap - 10
	}
	return s
}

// probed runs the probe while ladleTest runs job (an expression whose promise
// resolves with a message), clicking #ping every 50 ms as a person would, and returns
// the job's message, the probe's result and the clicks' round trips.
func probed(t *testing.T, b *Browser, job string) (message, probeResult, []time.Duration) {
	t.Helper()
	eval[bool](t, b, "(ladleTest.result = undefined, ladleTest.startProbe())")
	// not awaited: the job runs while the clicks come
	eval[bool](t, b, fmt.Sprintf("(ladleTest.running = %s.then((m) => (ladleTest.result = m)), true)", job))
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
		if i > 2000 {
			t.Fatalf("%s did not end", job)
		}
	}
	m := eval[message](t, b, "ladleTest.running")
	p := eval[probeResult](t, b, "ladleTest.stopProbe()")
	long, total := p.longest()
	t.Logf("%.2fs: %d long tasks, longest %.0f ms, %.0f ms in all; timer: max gap %.0f ms, %d gaps over 50 ms, %.0f ms stalled; max frame gap %.0f ms, %d frames; %d of %d clicks handled, in-page delay max %.1f ms, round trip max %v",
		p.Seconds, len(p.LongTasks), long, total, p.MaxTimerGap, len(p.TimerGaps), p.stalled(), p.MaxFrameGap, p.Frames, len(p.Clicks), len(clicks), maxOf(p.Clicks), slices.Max(clicks).Round(time.Millisecond))
	return m, p, clicks
}

// TestPageStaysResponsiveDuringMerge: while a merge of three 48 MiB models runs in the
// engine worker, the page thread stays free: clicks are handled as they come and the
// merge puts no work of its own on the page thread.
//
// What it measures, and why so. The property is that the merge does not block the
// page's thread (no merging, no big copies, no flood of messages on it). The page
// thread's timer gaps alone cannot prove that on a loaded 2-core machine: a gap is
// also the renderer waiting for the OS to schedule it, which took 364 ms at load
// average 9 with the page doing nothing, and under load a task's wall time (all the
// browser can measure) stretches the same way. So the merge is measured against a
// control in the same page, on the same machine, right after it: a worker that only
// keeps a core busy for as long as the merge took, with the same clicks. What the OS
// does to the renderer shows in both; what the merge puts on the page thread shows
// only in the merge. The measures are the long tasks (Long Tasks API: every task of
// 50 ms or more on the page thread, with its duration, i.e. the page's own work; an
// idle thread the OS runs late makes a timer late without making a task) and, needing
// no API, the time the 10 ms timer was late by over 50 ms. The merge fails when its
// long tasks take over 15% of its time beyond the control's share (its timer's stalls
// over 60%: at load 12 the control alone lost 30%, a merge 39%, a frozen page ~100%), or when one long task outlasts
// the control's longest by 500 ms: a merge on the page thread freezes it for the
// whole merge, steady per-chunk work shows as a share, a single big copy as a task.
// A self-check first blocks the thread for 300 ms and requires the observer to see
// it, so that a missing API or a broken observer fails rather than passes. Every
// click sent must be handled, at least two a second come back (the test clicks every
// 50 ms plus the round trip; a frozen page answers one click when the merge ends),
// and none may take over 2 s from the page or to come back: a loaded machine made
// round trips of 900 ms with the page idle.
func TestPageStaysResponsiveDuringMerge(t *testing.T) {
	b, _ := page(t, 1)
	paths := bigModels(t)
	if err := b.SetFiles("#files", paths); err != nil {
		t.Fatal(err)
	}

	// the self-check: page code that holds the thread for 300 ms is seen as a long task
	// (in a task of the page's own, a timer's: DevTools' evaluations are not the page's
	// tasks; the observer hears of a task after it ends, so the test waits for it)
	eval[bool](t, b, "ladleTest.startProbe()")
	eval[bool](t, b, "(setTimeout(() => ladleTest.block(300), 0), true)")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !eval[bool](t, b, "ladleTest.probe.longTasks.some((lt) => lt.duration >= 300)"); {
		time.Sleep(20 * time.Millisecond)
	}
	self := eval[probeResult](t, b, "ladleTest.stopProbe()")
	if long, _ := self.longest(); !self.LongTaskAPI || long < 300 {
		t.Fatalf("the probe does not see the page's own work: the Long Tasks API %v, a 300 ms block seen as a %.0f ms task (%+v)", self.LongTaskAPI, long, self.LongTasks)
	}

	t.Log("the merge:")
	m, p, clicks := probed(t, b, fmt.Sprintf("ladleTest.merge(%q)", bigSoup))
	if m.Type != "done" {
		t.Fatalf("merge: %v", m)
	}
	t.Log("the control (a busy worker for as long):")
	cm, c, _ := probed(t, b, fmt.Sprintf("ladleTest.busy(%d)", int(p.Seconds*1000)))
	if cm.Type != "done" {
		t.Fatalf("control: %v", cm)
	}
	if len(p.LongTasks) > 0 {
		t.Logf("the merge's long tasks: %+v", p.LongTasks)
	}
	if len(p.Clicks) != len(clicks) || len(clicks) < 3 || float64(len(clicks)) < 2*p.Seconds {
		t.Errorf("%d clicks sent, %d handled (the merge took %.2fs)", len(clicks), len(p.Clicks), p.Seconds)
	}
	long, total := p.longest()
	cLong, cTotal := c.longest()
	if long > cLong+500 {
		t.Errorf("a task on the page thread ran %.0f ms during the merge (the control's longest: %.0f ms)", long, cLong)
	}
	if share, cShare := total/(10*p.Seconds), cTotal/(10*c.Seconds); share > cShare+15 {
		t.Errorf("long tasks held the page thread %.0f%% of the merge's time (the control: %.0f%%)", share, cShare)
	}
	if share, cShare := p.stalled()/(10*p.Seconds), c.stalled()/(10*c.Seconds); share > cShare+60 {
		t.Errorf("the page's 10 ms timer was stalled %.0f%% of the merge's time (the control: %.0f%%)", share, cShare)
	}
	if d := maxOf(p.Clicks); d > 2000 {
		t.Errorf("a click waited %.0f ms for its handler during the merge", d)
	}
	for _, c := range clicks {
		if c > 2*time.Second {
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
