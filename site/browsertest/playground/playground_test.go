// Package playground drives the product page (index.html with app.wasm and its engine
// workers) in headless Chromium like a person: files chosen on the file input, the
// recipe typed into the editor, Run, Cancel and Download clicked, and checks the
// result against the native core. It skips with a message when Chromium or the
// shared fixtures are absent. One Chromium, one server and one built dist serve every
// test; each test loads the page afresh.
//
// LADLE_SCREENSHOT=1 also writes public/screenshot.png (the page with three models
// merged, at desktop width) and a phone-width screenshot into the temporary folder.
package playground

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	_ "ladle/core/ckpt/all"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/safetensors"
	"ladle/core/plan"
	"ladle/core/recipe"
	"ladle/site/browsertest"
	"ladle/ui/state"
)

var (
	shared     sync.Once
	sharedB    *browsertest.Browser
	sharedSrv  *browsertest.Server
	sharedDist string
	sharedErr  error
	sharedSkip string

	bigOnce  sync.Once
	bigDir   string
	bigPaths []string
	bigErr   error
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

// openPage loads the playground afresh and waits until it has mounted and read its
// labs index.
func openPage(t *testing.T) *browsertest.Browser {
	t.Helper()
	shared.Do(func() {
		exe := browsertest.FindChromium()
		if exe == "" {
			sharedSkip = "browser test skipped: no Chromium found (install it, e.g. `apt-get install -y chromium`, or set LADLE_CHROMIUM); CI installs it"
			return
		}
		sharedDist, sharedErr = browsertest.BuildDist(context.Background(), nil)
		if sharedErr != nil {
			sharedErr = fmt.Errorf("building the playground: %w", sharedErr)
			return
		}
		if sharedSrv, sharedErr = browsertest.Serve(os.DirFS(sharedDist)); sharedErr != nil {
			return
		}
		if sharedB, sharedErr = browsertest.Start(context.Background(), browsertest.Options{Exec: exe}); sharedErr != nil {
			return
		}
		// every page records the Content-Security-Policy violations it meets
		_, sharedErr = chromedp.Call(sharedB.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.ladleCSP = []; document.addEventListener('securitypolicyviolation', (e) => window.ladleCSP.push(e.effectiveDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`})
	})
	if sharedSkip != "" {
		t.Skip(sharedSkip)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	b := sharedB
	if err := b.Navigate(sharedSrv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.querySelector('[data-testid=run]') !== null && !document.body.textContent.includes('Looking for bundled labs')`, 30*time.Second)
	t.Cleanup(func() {
		if v, err := browsertest.Eval[[]string](b, `window.ladleCSP || ['the CSP recorder did not run']`); err == nil && len(v) > 0 {
			t.Errorf("the page broke its Content-Security-Policy: %q", v)
		}
	})
	return b
}

// eval evaluates a JavaScript expression (awaiting a Promise) with a deadline.
func eval[T any](t *testing.T, b *browsertest.Browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	v, err := browsertest.EvalCtx[T](ctx, b, expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript expression is truthy, and fails the test with the
// page's status and errors when it is not within d, or 30 s when d is shorter. A wait
// is no measure of speed (that is the benchmarks' job): a step that takes a moment
// alone can take many seconds on a loaded 2-core machine, where CI runs two packages'
// browsers and compiles at once, and a wait ends as soon as its condition holds.
func waitFor(t *testing.T, b *browsertest.Browser, expr string, d time.Duration) {
	t.Helper()
	d = max(d, 30*time.Second)
	ctx, cancel := context.WithTimeout(b.Ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		t.Fatalf("waiting for %s: %v\n%s", expr, err, pageState(b))
	}
}

// pageState is the status and error text, every other status line (a lab loading),
// and the page's last finished requests, for failure messages.
func pageState(b *browsertest.Browser) string {
	ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
	defer cancel()
	s, _ := browsertest.EvalCtx[string](ctx, b, `(() => { const q = (id) => { const e = document.querySelector('[data-testid=' + id + ']'); return e ? e.textContent.trim() : '(none)'; };
		const statuses = [...document.querySelectorAll('[role=status]')].map((e) => e.textContent.trim()).filter((t) => t);
		const done = performance.getEntriesByType('resource').slice(-8).map((r) => new URL(r.name).pathname + ' ' + Math.round(r.duration) + ' ms');
		return 'status: ' + q('status') + '\nerror: ' + q('error') + '\nmodels: ' + q('model-list') +
			'\nstatus lines: ' + statuses.join(' | ') + '\nlast requests done: ' + done.join(', '); })()`)
	return s
}

func click(t *testing.T, b *browsertest.Browser, testid string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=`+testid+`]`))); err != nil {
		t.Fatalf("clicking %s: %v", testid, err)
	}
}

func setFiles(t *testing.T, b *browsertest.Browser, paths []string) {
	t.Helper()
	if err := b.SetFiles(`[data-testid=file-input]`, paths); err != nil {
		t.Fatal(err)
	}
}

const (
	runEnabled   = `!document.querySelector('[data-testid=run]').disabled`
	hasResult    = `document.querySelector('[data-testid=download]').hasAttribute('href')`
	errorVisible = `(() => { const e = document.querySelector('[data-testid=error]'); return e && e.checkVisibility() && e.textContent.trim() !== ''; })()`
	editorText   = `document.querySelector('[data-testid=recipe-editor]').value`
	statusText   = `document.querySelector('[data-testid=status]').textContent`
	errorText    = `document.querySelector('[data-testid=error]').textContent`
)

// modelsListed is true once the model list shows every name.
func modelsListed(paths []string) string {
	var conds []string
	for _, p := range paths {
		conds = append(conds, fmt.Sprintf(`document.querySelector('[data-testid=model-list]').textContent.includes(%q)`, filepath.Base(p)))
	}
	return strings.Join(conds, " && ")
}

// typeRecipe sets the editor's text as typing does: value, then an input event.
func typeRecipe(t *testing.T, b *browsertest.Browser, text string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(() => { const e = document.querySelector('[data-testid=recipe-editor]'); e.focus(); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, text))
}

// download clicks Download and returns the bytes the browser saved.
func download(t *testing.T, b *browsertest.Browser) []byte {
	t.Helper()
	return downloadBy(t, b, `[data-testid=download]`)
}

// downloadBy clicks the element sel and returns the bytes of the download it starts.
func downloadBy(t *testing.T, b *browsertest.Browser, sel string) []byte {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true)}); err != nil {
		t.Fatal(err)
	}
	events := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
	for ev, err := range events {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				t.Fatal(err)
			}
			return data
		case browser.DownloadProgressStateCanceled:
			t.Fatal("the browser cancelled the download")
		}
	}
	t.Fatal("the download did not complete")
	return nil
}

func burnFixtures(t *testing.T) []string {
	var paths []string
	for _, n := range []string{"run-a.pt", "run-b-whole-module.pt", "run-c.safetensors"} {
		paths = append(paths, ckpttest.Fixture(t, filepath.Join("burn-mnist", n)))
	}
	return paths
}

// nativeMerge runs a recipe with the core over the files of dir, as `ladle merge` does
// (cmd/ladle/merge.go).
func nativeMerge(t *testing.T, dir, text string) []byte {
	t.Helper()
	r, err := recipe.Parse([]byte(text), filepath.Join(dir, "recipe.yaml"), dir)
	if err != nil {
		t.Fatalf("the page's recipe does not parse natively: %v\n%s", err, text)
	}
	p, err := plan.Prepare(r, plan.FileOpener(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// as `ladle merge` does: the whole-model steps first, so that the metadata records them
	if err := p.Preprocess(context.Background(), plan.Options{}); err != nil {
		t.Fatal(err)
	}
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

const typedSoup = `merge_method: linear
models:
  - model: run-a.pt
  - model: run-b-whole-module.pt
    parameters: {weight: 2.0}
  - model: run-c.safetensors
parameters: {normalize: true}
`

// unsplittable trims over the whole model: the engine refuses to split it.
const unsplittable = `merge_method: ties
base_model: run-a.pt
models:
  - model: run-b-whole-module.pt
    parameters: {weight: 1.0, density: 0.5}
  - model: run-c.safetensors
    parameters: {weight: 0.5, density: 0.7}
parameters: {lambda: 1.0}
ladle: {trim_scope: model}
`

// TestPlaygroundMergesLikeNative: the three burn-mnist checkpoints chosen on the file
// input, merged with the recipe the form writes and then with a typed one, each
// download byte for byte the native merge, and no network request during a merge.
func TestPlaygroundMergesLikeNative(t *testing.T) {
	paths := burnFixtures(t)
	b := openPage(t)
	for _, id := range []string{"file-input", "model-list", "method-select", "recipe-editor", "run", "cancel", "progress", "status", "error", "download"} {
		if !eval[bool](t, b, fmt.Sprintf(`document.querySelector('[data-testid=%s]') !== null`, id)) {
			t.Errorf("the page has no data-testid=%s", id)
		}
	}
	if eval[bool](t, b, errorVisible) || eval[bool](t, b, hasResult) || eval[bool](t, b, runEnabled) {
		t.Fatalf("a fresh page shows an error, a result or an enabled Run\n%s", pageState(b))
	}
	if n := eval[int](t, b, `document.querySelectorAll('[data-testid=method-select] option').length`); n < 5 {
		t.Errorf("the method picker offers %d methods", n)
	}
	setFiles(t, b, paths)
	waitFor(t, b, modelsListed(paths)+" && "+runEnabled, 30*time.Second)
	for _, want := range []string{"pytorch", "safetensors", "3 models share all 20 tensors"} {
		if !eval[bool](t, b, fmt.Sprintf(`document.body.textContent.includes(%q)`, want)) {
			t.Errorf("the page does not say %q\n%s", want, pageState(b))
		}
	}
	// Run the recipe the form wrote, watching the network of the page and its workers.
	formRecipe := eval[string](t, b, editorText)
	net := b.RecordNetwork()
	defer net.Stop()
	if err := net.WatchWorkers(b); err != nil {
		t.Fatal(err)
	}
	before := len(sharedSrv.Requests())
	start := time.Now()
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
	if reqs := net.Since(start); len(reqs) > 0 {
		t.Errorf("the page made %d network request(s) during the merge:\n%s", len(reqs), browsertest.String(reqs))
	}
	if after := sharedSrv.Requests(); len(after) != before {
		t.Errorf("the server got %d request(s) during the merge: %v", len(after)-before, after[before:])
	}
	if s := eval[string](t, b, statusText); !strings.Contains(s, "Ready to download") {
		t.Errorf("status after the merge: %q", s)
	}
	if p := eval[float64](t, b, `document.querySelector('[data-testid=progress]').value`); p != 100 {
		t.Errorf("progress after the merge: %v", p)
	}
	got := download(t, b)
	dir := filepath.Dir(paths[0])
	if want := nativeMerge(t, dir, formRecipe); !bytes.Equal(got, want) {
		t.Fatalf("the page's merge (%d bytes) differs from the native merge of its recipe (%d bytes):\n%s", len(got), len(want), formRecipe)
	}
	if os.Getenv("LADLE_SCREENSHOT") == "1" {
		screenshots(t, b)
	}
	// A typed recipe is what Run uses.
	typeRecipe(t, b, typedSoup)
	waitFor(t, b, runEnabled, 10*time.Second)
	if v := eval[string](t, b, `document.querySelector('[data-testid=method-select]').value`); v != "linear" {
		t.Errorf("method after typing: %q", v)
	}
	old := eval[string](t, b, `document.querySelector('[data-testid=download]').href`)
	click(t, b, "run")
	waitFor(t, b, fmt.Sprintf(`%s && document.querySelector('[data-testid=download]').href !== %q`, hasResult, old), 60*time.Second)
	typed := download(t, b)
	want := nativeMerge(t, dir, typedSoup)
	if !bytes.Equal(typed, want) {
		t.Fatalf("the merge of the typed recipe (%d bytes) differs from its native merge (%d bytes)", len(typed), len(want))
	}
	if bytes.Equal(typed, got) {
		t.Error("the typed recipe gave the same bytes as the form's: Run did not use it")
	}
	// A merge that cannot be split by tensor (trim_scope: model) runs on one worker.
	old = eval[string](t, b, `document.querySelector('[data-testid=download]').href`)
	typeRecipe(t, b, unsplittable)
	waitFor(t, b, runEnabled, 10*time.Second)
	// the form follows the typed recipe
	if v := eval[string](t, b, `document.querySelector('[data-testid=method-select]').value + ' ' + document.querySelector('#base-select').value`); v != "ties run-a.pt" {
		t.Errorf("method and base after typing a ties recipe: %q", v)
	}
	click(t, b, "run")
	waitFor(t, b, fmt.Sprintf(`%s && document.querySelector('[data-testid=download]').href !== %q`, hasResult, old), 60*time.Second)
	if got, want := download(t, b), nativeMerge(t, dir, unsplittable); !bytes.Equal(got, want) {
		t.Fatalf("the unsplittable merge (%d bytes) differs from its native merge (%d bytes)", len(got), len(want))
	}
	if eval[bool](t, b, errorVisible) {
		t.Errorf("an error is shown after good merges\n%s", pageState(b))
	}
	// Export downloads the editor's text; Import puts a file's text in the editor.
	if got := string(downloadBy(t, b, `#recipe-export`)); got != unsplittable {
		t.Errorf("the exported recipe is\n%s\nnot the editor's\n%s", got, unsplittable)
	}
	imported := filepath.Join(t.TempDir(), "imported.yaml")
	if err := os.WriteFile(imported, []byte(typedSoup), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.SetFiles(`#recipe-import`, []string{imported}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, fmt.Sprintf(`%s === %q`, editorText, typedSoup), 10*time.Second)
	// A typed mistake shows in the error box and disables Run.
	typeRecipe(t, b, "merge_method: linear\nmodels:\n  - model: not-loaded.safetensors\n  - model: run-a.pt\n")
	waitFor(t, b, errorVisible+` && document.querySelector('[data-testid=run]').disabled`, 10*time.Second)
	if msg := eval[string](t, b, errorText); !strings.Contains(msg, "not-loaded.safetensors") {
		t.Errorf("error for a model that is not loaded: %q", msg)
	}
}

// screenshots writes public/screenshot.png (desktop) and a phone-width one.
func screenshots(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	root, err := ckpttest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	shoot := func(width, height int64, path string) {
		if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(width, height), chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(png))
	}
	shoot(1280, 900, filepath.Join(root, "public", "screenshot.png"))
	shoot(390, 844, filepath.Join(os.TempDir(), "ladle-screenshot-phone.png"))
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1200, 900)); err != nil {
		t.Fatal(err)
	}
}

// TestPlaygroundHostileFile: an unreadable file is named in the error box, left out of
// the merge, and the page goes on merging the others.
func TestPlaygroundHostileFile(t *testing.T) {
	paths := burnFixtures(t)
	dir := t.TempDir()
	good, err := os.ReadFile(paths[2])
	if err != nil {
		t.Fatal(err)
	}
	hostile := filepath.Join(dir, "hostile.safetensors")
	if err := os.WriteFile(hostile, good[:len(good)/2], 0o644); err != nil { // the header promises more than the file holds
		t.Fatal(err)
	}
	b := openPage(t)
	setFiles(t, b, []string{paths[0], hostile, paths[2]})
	waitFor(t, b, modelsListed([]string{paths[0], hostile, paths[2]})+" && "+errorVisible, 30*time.Second)
	msg := eval[string](t, b, errorText)
	if !strings.Contains(msg, "hostile.safetensors") {
		t.Errorf("the error does not name the file: %q", msg)
	}
	if !eval[bool](t, b, runEnabled) {
		t.Fatalf("the readable files cannot be merged after a hostile one\n%s", pageState(b))
	}
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
	text := eval[string](t, b, editorText)
	if strings.Contains(text, "hostile") {
		t.Errorf("the unreadable file is in the recipe:\n%s", text)
	}
	// a file dropped on the drop zone is read too; junk is named in the error box
	eval[bool](t, b, `(() => { const dt = new DataTransfer(); dt.items.add(new File([new Uint8Array([80, 75, 3, 4, 255, 255, 255])], 'dropped-junk.pt'));
		document.querySelector('.dropzone').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})); return true; })()`)
	waitFor(t, b, `document.querySelector('[data-testid=error]').textContent.includes('dropped-junk.pt')`, 30*time.Second)
	if !eval[bool](t, b, hasResult) || !eval[bool](t, b, runEnabled) {
		t.Errorf("dropping a junk file broke the page\n%s", pageState(b))
	}
}

func bigModels(t *testing.T) []string {
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "ladle-playground-")
		if bigErr == nil {
			bigPaths, bigErr = browsertest.WriteModels(bigDir, 3, 48<<20)
		}
	})
	if bigErr != nil {
		t.Fatal(bigErr)
	}
	return bigPaths
}

// TestPlaygroundResponsiveAndCancel: Cancel mid-merge leaves no result and says so;
// during a long merge a click on the page is handled within 200 ms.
func TestPlaygroundResponsiveAndCancel(t *testing.T) {
	b := openPage(t)
	paths := bigModels(t)
	setFiles(t, b, paths)
	waitFor(t, b, modelsListed(paths)+" && "+runEnabled, 30*time.Second)
	const merging = `/^(Merging|Starting the merge)/.test(document.querySelector('[data-testid=status]').textContent)`
	click(t, b, "run")
	waitFor(t, b, merging, 20*time.Second)
	click(t, b, "cancel")
	waitFor(t, b, `document.querySelector('[data-testid=status]').textContent.toLowerCase().includes('cancelled')`, 30*time.Second)
	if eval[bool](t, b, hasResult) {
		t.Error("a cancelled merge offers a download")
	}
	if eval[bool](t, b, errorVisible) {
		t.Errorf("a cancel shows an error\n%s", pageState(b))
	}
	if !eval[bool](t, b, runEnabled) {
		t.Fatal("Run is disabled after a cancel")
	}
	// clicks on the page record how long they waited for the page thread
	eval[bool](t, b, `(window.ladleClicks = [], document.addEventListener('click', (e) => window.ladleClicks.push(performance.now() - e.timeStamp), true), true)`)
	click(t, b, "run")
	waitFor(t, b, merging, 20*time.Second)
	var slowest time.Duration
	for eval[bool](t, b, merging) {
		start := time.Now()
		click(t, b, "status")
		slowest = max(slowest, time.Since(start))
		time.Sleep(30 * time.Millisecond)
	}
	waitFor(t, b, hasResult, 60*time.Second)
	waits := eval[[]float64](t, b, `window.ladleClicks`)
	if len(waits) < 3 {
		t.Fatalf("the page saw %d clicks during the merge: too few to judge", len(waits))
	}
	for _, w := range waits {
		if w > 200 {
			t.Errorf("a click waited %.0f ms for the page thread during the merge (want < 200 ms; all: %v)", w, waits)
			break
		}
	}
	t.Logf("%d clicks during the merge waited at most %.1f ms for the page (slowest round trip through DevTools %v)", len(waits), maxOf(waits), slowest)
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// TestPlaygroundLabs: one click on a bundled lab loads its files, its first recipe and
// its numbers; without labs the gallery says so.
func TestPlaygroundLabs(t *testing.T) {
	b := openPage(t)
	if _, err := os.Stat(filepath.Join(sharedDist, "labs", "index.json")); err != nil {
		if !eval[bool](t, b, fmt.Sprintf(`document.body.textContent.includes(%q)`, state.NoLabs)) {
			t.Errorf("no labs are bundled, and the gallery does not say so")
		}
		t.Skip("lab test skipped: " + state.NoLabs)
	}
	raw, err := os.ReadFile(filepath.Join(sharedDist, "labs", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	labs, err := state.ParseLabIndex(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(labs) == 0 {
		t.Skip("lab test skipped: labs/index.json lists no lab")
	}
	lab := labs[0]
	labRaw, err := os.ReadFile(filepath.Join(sharedDist, "labs", lab.Name, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := state.ParseLab(lab.Name, labRaw)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range labs {
		if !eval[bool](t, b, fmt.Sprintf(`document.querySelector('[data-testid="lab-%s"]') !== null`, l.Name)) {
			t.Errorf("no button for the lab %s", l.Name)
		}
	}
	click(t, b, "lab-"+lab.Name)
	files := labModels(desc)
	waitFor(t, b, modelsListed(files)+` && document.querySelector('.lab') !== null`, 60*time.Second)
	if len(desc.Recipes) > 0 {
		want, err := os.ReadFile(filepath.Join(sharedDist, "labs", lab.Name, desc.Recipes[0].File))
		if err != nil {
			t.Fatal(err)
		}
		if got := eval[string](t, b, editorText); got != string(want) {
			t.Errorf("the editor holds\n%s\nnot the lab's first recipe\n%s", got, want)
		}
	}
	if len(desc.Results.Ingredients)+len(desc.Results.Soups) > 0 && !eval[bool](t, b, `document.querySelector('.lab table.scores') !== null`) {
		t.Error("the lab's numbers are not shown")
	}
	if len(desc.Curve) > 1 && !eval[bool](t, b, `document.querySelector('.lab svg polyline') !== null`) {
		t.Error("the lab's curve is not drawn")
	}
	if eval[bool](t, b, errorVisible) {
		t.Errorf("loading the lab shows an error\n%s", pageState(b))
	}
	// Run the lab's first recipe (the soup) in the page: the download equals the native
	// merge of the same recipe over the lab's files.
	if len(desc.Recipes) > 0 {
		labDir := filepath.Join(sharedDist, "labs", lab.Name)
		text := eval[string](t, b, editorText)
		click(t, b, "run")
		waitFor(t, b, hasResult+" || "+errorVisible, 60*time.Second)
		if eval[bool](t, b, errorVisible) {
			t.Fatalf("running the lab's recipe failed\n%s", pageState(b))
		}
		if got, want := download(t, b), nativeMerge(t, labDir, text); !bytes.Equal(got, want) {
			t.Errorf("the lab's soup from the page (%d bytes) differs from the native merge (%d bytes)", len(got), len(want))
		}
	}
	// A lab whose curve also has the aligned path (re-basin) draws both.
	for _, l := range labs {
		raw, err := os.ReadFile(filepath.Join(sharedDist, "labs", l.Name, "lab.json"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := state.ParseLab(l.Name, raw)
		if err != nil || len(d.Curve) < 2 || d.Curve[0].AlignedLoss == nil {
			continue
		}
		click(t, b, "lab-"+l.Name)
		waitFor(t, b, `document.querySelector('.lab svg polyline.aligned') !== null`, 60*time.Second)
		break
	}
}
