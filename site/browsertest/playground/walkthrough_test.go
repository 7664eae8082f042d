package playground

// Defects found by a newcomer's walkthrough of every lab (a teacher on a laptop, a
// student on a phone, a practitioner typing recipes and dropping broken files), each
// driven as a person would and failing on the page before its fix.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"ladle/core/ckpt"
	"ladle/core/lora"
	"ladle/site/browsertest"
)

// openPageAt loads the page afresh at a viewport size (the previous one is restored
// when the test ends).
func openPageAt(t *testing.T, w, h int64) *browsertest.Browser {
	t.Helper()
	b := openPage(t)
	t.Cleanup(func() { chromedp.Do(b.Ctx, chromedp.EmulateViewport(1200, 900)) })
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatal(err)
	}
	if err := b.Navigate(sharedSrv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, `document.querySelector('[data-testid=run]') !== null && !document.body.textContent.includes('Looking for bundled labs')`, 30*time.Second)
	return b
}

// sticksOut lists the elements of a card that reach past the card's right edge
// outside a horizontally scrolling box, and says whether the page scrolls sideways.
const sticksOut = `((sel) => { const card = document.querySelector(sel); const edge = card.getBoundingClientRect().right; const out = [];
	const W = document.documentElement.clientWidth; if (document.documentElement.scrollWidth > W) out.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' px wide in a ' + W + ' px window');
	for (const e of card.querySelectorAll('*')) { const r = e.getBoundingClientRect(); if (r.width === 0 || r.right <= edge + 0.5) continue;
		let scrolled = false; for (let p = e.parentElement; p && p !== card; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll') scrolled = true; }
		if (!scrolled) out.push(e.tagName.toLowerCase() + (e.dataset.testid ? '[' + e.dataset.testid + ']' : '') + ' "' + e.textContent.trim().slice(0, 30) + '" ends at ' + Math.round(r.right) + ' px, the card at ' + Math.round(edge)); }
	return out.slice(0, 8); })`

// On a phone, the Evaluate card fits the screen: the split picker and the live table
// (with its n and at-build columns) stay inside the card, and the page does not
// scroll sideways.
func TestWalkthroughPhoneEvaluateFits(t *testing.T) {
	b := openPageAt(t, 390, 844)
	openLab(t, b, "soups")
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
	waitFor(t, b, `!document.querySelector('[data-testid=evaluate]').disabled`, 60*time.Second)
	click(t, b, "evaluate")
	waitFor(t, b, `document.querySelectorAll('[data-testid=eval-row]').length === 12 && !document.querySelector('[data-testid=eval-table]').textContent.includes('evaluating')`, 60*time.Second)
	if out := eval[[]string](t, b, sticksOut+`('.card.evaluate')`); len(out) > 0 {
		t.Errorf("at 390x844 the Evaluate card overflows:\n  %s", strings.Join(out, "\n  "))
	}
	// every column of a row is on screen
	if cut := eval[[]string](t, b, `[...document.querySelector('[data-testid=eval-row]').children].filter(c => { const r = c.getBoundingClientRect(); return r.width > 0 && r.right > document.documentElement.clientWidth; }).map(c => c.textContent.trim())`); len(cut) > 0 {
		t.Errorf("at 390x844 a row's cells %q are off screen", cut)
	}
}

// A live curve goes with the models it was drawn from: after opening another lab (whose
// files replace them) it is no longer shown, and the straight line's model pickers
// move to the new lab's models, so that Sweep draws their line.
func TestWalkthroughCurveLeavesWithItsModels(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "rebasin")
	// Try step 3: the straight line between the two models
	eval[bool](t, b, `(document.querySelectorAll('[name=sweep-mode]')[1].click(), true)`)
	waitFor(t, b, `document.querySelector('#interp-b') !== null && !document.querySelector('[data-testid=sweep]').disabled`, 30*time.Second)
	click(t, b, "sweep")
	waitFor(t, b, `document.querySelectorAll('[data-testid=curve-point]').length >= 2 && !document.querySelector('[data-testid=sweep]').disabled`, 90*time.Second)
	openLab(t, b, "soups")
	if eval[bool](t, b, `document.querySelector('[data-testid=curve]') !== null`) {
		t.Errorf("after opening the soups lab the Live curve still shows the Re-Basin lab's curve: %q",
			eval[string](t, b, `document.querySelector('[data-testid=curve] figcaption').textContent`))
	}
	click(t, b, "sweep")
	waitFor(t, b, `document.querySelectorAll('[data-testid=curve-point]').length >= 2 || document.querySelector('.card.sweep .error') !== null`, 90*time.Second)
	if msg := eval[string](t, b, `(document.querySelector('.card.sweep .error') || {textContent: ''}).textContent`); msg != "" {
		t.Errorf("the straight line between two of the soups lab's models fails: %s", msg)
	}
}

// In the robust-signatures lab, Evaluate scores the models and leaves the signatures
// (the lab's .sig files and an extracted signature, which are directions in weight
// space, not networks) out with a word why, instead of a red "no tensor fc1.weight"
// error in their rows; a patched model is scored as usual.
func TestWalkthroughSignaturesAreNotEvaluated(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "robust-signatures")
	click(t, b, "run") // Try step 1: extract the blur signature
	waitFor(t, b, hasResult, 60*time.Second)
	waitFor(t, b, `!document.querySelector('[data-testid=evaluate]').disabled`, 60*time.Second)
	click(t, b, "evaluate")
	waitFor(t, b, `document.querySelectorAll('[data-testid=eval-row]').length > 0 && !document.querySelector('[data-testid=eval-table]').textContent.includes('evaluating') && !document.querySelector('[data-testid=evaluate]').disabled`, 90*time.Second)
	rows := eval[[]string](t, b, `[...document.querySelectorAll('[data-testid=eval-row]')].map(r => r.dataset.model + ': ' + (r.querySelector('.model-error') ? r.querySelector('.model-error').textContent : r.dataset.accuracy))`)
	for _, r := range rows {
		if strings.HasPrefix(r, "result:") || strings.Contains(r, ".sig.safetensors") {
			t.Errorf("a signature is evaluated as a model: %s", r)
		}
	}
	if len(rows) < 5 {
		t.Errorf("the lab's models are not all scored: %q", rows)
	}
	note := eval[string](t, b, `document.querySelector('[data-testid=eval-skipped]') ? document.querySelector('[data-testid=eval-skipped]').textContent : ''`)
	for _, want := range []string{"blur.sig.safetensors", "contrast.sig.safetensors", "result", "signature"} {
		if !strings.Contains(note, want) {
			t.Errorf("the Evaluate card does not say that %s is left out: %q", want, note)
		}
	}
	// Try step 2: the patched model is a model again, and is scored at once
	eval[bool](t, b, `([...document.querySelectorAll('.lab .actions button')].find(e => e.textContent.startsWith('Patch blur')).click(), true)`)
	waitFor(t, b, runEnabled+` && !`+hasResult, 30*time.Second)
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
	waitFor(t, b, `(() => { const r = document.querySelector('[data-testid=eval-row][data-model=result]'); return r && r.dataset.accuracy !== ''; })()`, 60*time.Second)
}

// A LoRA adapter named wrongly in a typed recipe is caught as it is typed, with a
// message that names the part that is missing and what to do: the adapter folder not
// chosen, and the adapter folder named as a model of its own (which passed the page's
// check and then failed in the engine with "no file named lora-low", listing the
// folder's files).
func TestWalkthroughAdapterMistakes(t *testing.T) {
	dir := adapterBeside(t)
	b := openPage(t)
	setFiles(t, b, []string{filepath.Join(dir, "base.safetensors")})
	waitFor(t, b, modelsListed([]string{"base.safetensors"}), 30*time.Second)
	if err := b.SetFiles(`#folder-input`, []string{filepath.Join(dir, "lora-low")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, modelsListed([]string{"base.safetensors", "lora-low"}), 30*time.Second)
	for _, c := range []struct{ recipe, want string }{
		{"merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n  - model: base.safetensors+my-lora\n",
			`the adapter folder my-lora is not loaded: choose its folder`},
		{"merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n  - model: lora-low\n",
			`lora-low is a LoRA adapter folder, not a model: name it after the base model it was trained on, as base.safetensors+lora-low`},
	} {
		typeRecipe(t, b, c.recipe)
		waitFor(t, b, errorVisible, 30*time.Second)
		msg := eval[string](t, b, errorText)
		if !strings.Contains(msg, c.want) || eval[bool](t, b, runEnabled) {
			t.Errorf("typed\n%s\nthe page says %q (Run enabled: %v); want it to say %q", c.recipe, msg, eval[bool](t, b, runEnabled), c.want)
		}
	}
}

// A mergekit `slices:` recipe over models without numbered layers (the labs' and
// burn-mnist's conv/fc networks) says so and what to do, instead of "goes past the
// layers of finetune-01.safetensors, which has 0 (0 to -1)".
func TestWalkthroughSlicesWithoutLayers(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	typeRecipe(t, b, "slices:\n  - sources:\n    - model: finetune-01.safetensors\n      layer_range: [0, 2]\n  - sources:\n    - model: finetune-02.safetensors\n      layer_range: [1, 3]\nmerge_method: passthrough\n")
	waitFor(t, b, runEnabled, 30*time.Second)
	click(t, b, "run")
	waitFor(t, b, errorVisible, 60*time.Second)
	msg := eval[string](t, b, errorText)
	if !strings.Contains(msg, "finetune-01.safetensors has no numbered layers") || !strings.Contains(msg, "models:") || strings.Contains(msg, "-1") {
		t.Errorf("slices over a model without layers: %q", msg)
	}
}

// The Re-Basin lab's Try step 4 ("pick slerp in 2. Method, move the slider or press
// Sweep"): picking slerp gives a recipe that runs, with t at the middle of its range
// and the Live curve's slider on it (before: "parameters.t: missing", Run disabled,
// no slider, and Sweep said "Fix the recipe first").
func TestWalkthroughPickedSlerpRunsAndSweeps(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "rebasin")
	choose(t, b, `[data-testid=method-select]`, "slerp")
	waitFor(t, b, runEnabled+" || "+errorVisible, 30*time.Second)
	if eval[bool](t, b, errorVisible) || !eval[bool](t, b, runEnabled) {
		t.Fatalf("slerp picked in 2. Method cannot run: %q\n%s", eval[string](t, b, errorText), eval[string](t, b, editorText))
	}
	if text := eval[string](t, b, editorText); !strings.Contains(text, "t: 0.5") {
		t.Errorf("the recipe does not start t at 0.5:\n%s", text)
	}
	waitFor(t, b, `document.querySelector('[data-testid=sweep-slider]') !== null && !document.querySelector('[data-testid=sweep]').disabled`, 30*time.Second)
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
}

// Emptying the recipe editor says so and disables Run (before: "Ready: press Run to
// merge", Run enabled, and "The merge failed: the recipe is empty" after pressing it);
// picking a method has the form write the recipe again.
func TestWalkthroughEmptyRecipe(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	typeRecipe(t, b, "")
	waitFor(t, b, errorVisible, 30*time.Second)
	if msg := eval[string](t, b, errorText); !strings.Contains(msg, "The recipe is empty") || eval[bool](t, b, runEnabled) {
		t.Errorf("an empty recipe: %q, Run enabled %v", msg, eval[bool](t, b, runEnabled))
	}
	choose(t, b, `[data-testid=method-select]`, "linear")
	waitFor(t, b, runEnabled+` && `+editorText+`.includes('finetune-01.safetensors')`, 30*time.Second)
}

// A dropped checkpoint without an architecture gets a row that says what to do in the
// page (not the command's --arch) and names the file once, and the status counts it
// apart from the scored models (before: "noarch.safetensors: noarch.safetensors: ...
// give one with --arch ARCH.json; drop an ARCH.json ..." and "12 models scored").
func TestWalkthroughEvalErrorRow(t *testing.T) {
	dir := t.TempDir()
	noarch := filepath.Join(dir, "noarch.safetensors")
	writeFloats(t, noarch, []float32{1, 2, 3})
	b := openPage(t)
	openLab(t, b, "soups")
	setFiles(t, b, []string{noarch})
	waitFor(t, b, modelsListed([]string{noarch}), 30*time.Second)
	click(t, b, "evaluate")
	waitFor(t, b, `document.querySelectorAll('[data-testid=eval-row]').length === 12 && !document.querySelector('[data-testid=eval-table]').textContent.includes('evaluating') && !document.querySelector('[data-testid=evaluate]').disabled`, 90*time.Second)
	msg := eval[string](t, b, `document.querySelector('[data-testid=eval-row][data-model="noarch.safetensors"] .model-error').textContent`)
	if strings.Count(msg, "noarch.safetensors") > 1 || strings.Contains(msg, "--arch") || !strings.Contains(msg, "drop an ARCH.json") {
		t.Errorf("the row of a checkpoint without an architecture says %q", msg)
	}
	if s := eval[string](t, b, `document.querySelector('[data-testid=eval-status]').textContent`); !strings.HasPrefix(s, "11 models scored") || !strings.Contains(s, "1 could not be evaluated") {
		t.Errorf("the status after one failed model: %q", s)
	}
}

// The sticky run card leaves the page room: after a merge it takes at most a fifth of
// a 1366x768 laptop's window (before: 247 px, a third) and under a third of a 390x844
// phone's (before: 345 px, two fifths), with Run, the status and Download on screen
// and not overlapping.
func TestWalkthroughRunCardIsCompact(t *testing.T) {
	for _, size := range []struct {
		w, h  int64
		share float64
	}{{1366, 768, 0.2}, {390, 844, 0.3}} {
		b := openPageAt(t, size.w, size.h)
		openLab(t, b, "soups")
		click(t, b, "run")
		waitFor(t, b, hasResult, 60*time.Second)
		eval[bool](t, b, `(document.querySelector('#files-h').scrollIntoView(), true)`)
		waitFor(t, b, `document.querySelector('.card.run').getBoundingClientRect().bottom <= window.innerHeight + 1`, 30*time.Second)
		if h := eval[float64](t, b, `document.querySelector('.card.run').getBoundingClientRect().height`); h > size.share*float64(size.h) {
			t.Errorf("%dx%d: the run card is %.0f px high", size.w, size.h, h)
		}
		boxes := eval[[][]float64](t, b, `['[data-testid=run]', '[data-testid=status]', '[data-testid=download]'].map(s => { const r = document.querySelector(s).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })`)
		for i, a := range boxes {
			if a[1] < 0 || a[3] > float64(size.h) || a[0] < 0 || a[2] > float64(size.w) || a[2] <= a[0] {
				t.Errorf("%dx%d: control %d is off screen: %v", size.w, size.h, i, a)
			}
			for j := i + 1; j < len(boxes); j++ {
				c := boxes[j]
				if a[0] < c[2] && c[0] < a[2] && a[1] < c[3] && c[1] < a[3] {
					t.Errorf("%dx%d: controls %d and %d overlap: %v %v", size.w, size.h, i, j, a, c)
				}
			}
		}
	}
}

// A lab's recipe buttons say which recipe the editor holds ("Press Greedy soup, then
// Run merge": before, nothing on the buttons changed), until it is edited.
func TestWalkthroughLabRecipeButtonIsPressed(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	pressed := `[...document.querySelectorAll('.lab [data-recipe]')].filter(e => e.getAttribute('aria-pressed') === 'true').map(e => e.textContent)`
	if got := eval[[]string](t, b, pressed); len(got) != 1 || got[0] != "Uniform soup" {
		t.Errorf("after opening the lab the pressed recipe buttons are %q", got)
	}
	eval[bool](t, b, `(document.querySelector('.lab [data-recipe="greedy.yaml"]').click(), true)`)
	waitFor(t, b, editorText+`.includes('greedy_soup')`, 30*time.Second)
	if got := eval[[]string](t, b, pressed); len(got) != 1 || got[0] != "Greedy soup" {
		t.Errorf("after pressing Greedy soup the pressed recipe buttons are %q", got)
	}
	typeRecipe(t, b, eval[string](t, b, editorText)+"# my change\n")
	if got := eval[[]string](t, b, pressed); len(got) != 0 {
		t.Errorf("after an edit the pressed recipe buttons are %q", got)
	}
}

// A point of the live curve can be merged from the keyboard: the points are buttons
// in the tab order, and Enter merges the focused one (before: mouse only).
func TestWalkthroughCurvePointByKeyboard(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "task-arithmetic")
	waitFor(t, b, `!document.querySelector('[data-testid=sweep]').disabled`, 30*time.Second)
	click(t, b, "sweep")
	waitFor(t, b, `document.querySelectorAll('[data-testid=curve-point]').length === 11 && !document.querySelector('[data-testid=sweep]').disabled`, 90*time.Second)
	// Tab from the Sweep button reaches the points
	eval[bool](t, b, `(document.querySelector('[data-testid=sweep]').focus(), true)`)
	for range 40 {
		if eval[bool](t, b, `document.activeElement && document.activeElement.dataset && document.activeElement.dataset.testid === 'curve-point'`) {
			break
		}
		if err := chromedp.Do(b.Ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
	}
	x := eval[string](t, b, `document.activeElement.dataset.testid === 'curve-point' ? document.activeElement.dataset.x : ''`)
	if x == "" {
		t.Fatal("Tab from Sweep never reaches a point of the curve")
	}
	if err := chromedp.Do(b.Ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, hasResult+` && `+editorText+`.split('\n').some(l => l.trim() === 'lambda: `+x+`')`, 60*time.Second)
}

// The lab's own table scales its bars to the range of its figures, as the live table
// does: in the soups lab 92.4% and 95.9% look different (before: meters from 0 to 1,
// the ten fine-tunes' bars all but equal).
func TestWalkthroughLabTableBarsAreScaled(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	bar := func(name string) float64 {
		return eval[float64](t, b, fmt.Sprintf(`(() => { const tr = [...document.querySelectorAll('.lab table.scores tbody tr')].find(tr => tr.querySelector('th').textContent === %q);
			const m = tr && tr.querySelector('meter'); return m ? (Number(m.value) - Number(m.min || 0)) / (Number(m.max || 1) - Number(m.min || 0)) : 0; })()`, name))
	}
	lo, hi := bar("finetune-07.safetensors"), bar("finetune-01.safetensors") // 92.4% and 95.9%
	if lo == 0 || hi == 0 {
		t.Fatal("the soups lab's table has no bars for 92.4% and 95.9%")
	}
	if lo > 0.5*hi {
		t.Errorf("the bars of 92.4%% and 95.9%% are %.2f and %.2f of the width: they look alike", lo, hi)
	}
	if c := eval[string](t, b, `document.querySelector('.lab table.scores caption').textContent`); !strings.Contains(c, "bars span 92.4% to 96.1%") {
		t.Errorf("the caption does not give the bars' range: %q", c)
	}
}

// adapterBeside writes the task-arithmetic lab's base and a LoRA adapter folder
// extracted from its task-low fine-tune (PEFT's layout) into a new folder.
func adapterBeside(t *testing.T) string { return adaptersBeside(t, 4, "low") }

// adaptersBeside writes the task-arithmetic lab's base.safetensors and, for each task,
// a LoRA adapter folder lora-TASK of the given rank extracted from its task-TASK
// fine-tune (PEFT's layout, named after base.safetensors) into a new folder.
func adaptersBeside(t *testing.T, rank int, tasks ...string) string {
	t.Helper()
	lab := labDir(t, "task-arithmetic")
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(lab, "base.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "base.safetensors"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := ckpt.Open(filepath.Join(lab, "base.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	for _, task := range tasks {
		ft, err := ckpt.Open(filepath.Join(lab, "task-"+task+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = lora.Extract(context.Background(), base, ft, rank, filepath.Join(dir, "lora-"+task), lora.ExtractOptions{BaseName: "base.safetensors"})
		ft.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dropOn drags paths (files or folders) from the desktop onto the element sel and
// drops them, as a person does (Input.dispatchDragEvent).
func dropOn(t *testing.T, b *browsertest.Browser, sel string, paths []string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(document.querySelector(%q).scrollIntoView({block: 'center'}), true)`, sel))
	at := eval[[]float64](t, b, fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`, sel))
	data := &input.DragData{Files: paths, DragOperationsMask: 1} // copy
	for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
		if _, err := chromedp.Call(b.Ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: at[0], Y: at[1], Data: data}); err != nil {
			t.Fatalf("dragging %v onto %s: %v", paths, sel, err)
		}
	}
}

// A LoRA adapter folder dropped beside its base is read as the folder it is (issue 10:
// "drop an adapter folder beside its base"), as when chosen with "Choose a folder…";
// before, the drop gave the page an unreadable File for the folder: "lora-low:
// reading bytes 0-4096: NotFoundError".
func TestWalkthroughDroppedAdapterFolder(t *testing.T) {
	dir := adapterBeside(t)
	b := openPage(t)
	dropOn(t, b, ".dropzone", []string{filepath.Join(dir, "base.safetensors"), filepath.Join(dir, "lora-low")})
	waitFor(t, b, modelsListed([]string{"base.safetensors", "lora-low"}), 30*time.Second)
	if msg := eval[string](t, b, `(document.querySelector('[data-model="lora-low"] .model-error') || {textContent: ''}).textContent`); msg != "" {
		t.Fatalf("the dropped adapter folder cannot be read: %s", msg)
	}
	if f := eval[string](t, b, `document.querySelector('[data-model="lora-low"] .facts').textContent`); !strings.Contains(f, "lora-adapter") {
		t.Errorf("the dropped folder is not listed as an adapter: %q", f)
	}
	choose(t, b, `[data-testid=method-select]`, "task_arithmetic")
	waitFor(t, b, editorText+`.includes('base.safetensors+lora-low') && `+runEnabled, 30*time.Second)
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
	// a file alone, dropped anywhere on the page, still comes in as a model
	extra := filepath.Join(dir, "extra.safetensors")
	writeFloats(t, extra, []float32{1, 2, 3})
	dropOn(t, b, ".card.method", []string{extra})
	waitFor(t, b, modelsListed([]string{extra}), 30*time.Second)
	// a sharded checkpoint's folder is one model named after the folder
	shardFixture(t, filepath.Join(labDir(t, "soups"), "finetune-01.safetensors"), dir, "ft01-sharded")
	dropOn(t, b, ".dropzone", []string{filepath.Join(dir, "ft01-sharded")})
	waitFor(t, b, modelsListed([]string{"ft01-sharded"}), 30*time.Second)
	if f := eval[string](t, b, `document.querySelector('[data-model="ft01-sharded"]').textContent`); strings.Contains(f, "index.json") || !strings.Contains(f, "Tensors4") && !strings.Contains(f, "Tensors 4") {
		t.Errorf("the dropped sharded folder is listed as %q", f)
	}
}

// A recipe.yaml dropped with its checkpoints goes into the recipe editor, as Import
// recipe… does, once the models it names are in (before: listed as an unreadable
// model, "the file holds text … is this a README, a config or a log, renamed?").
func TestWalkthroughDroppedRecipe(t *testing.T) {
	lab := labDir(t, "task-arithmetic")
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"base.safetensors", "task-low.safetensors", "task-high.safetensors"} {
		raw, err := os.ReadFile(filepath.Join(lab, n))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Join(dir, n))
		if err := os.WriteFile(paths[len(paths)-1], raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const text = "merge_method: ties\nbase_model: base.safetensors\nmodels:\n  - model: task-low.safetensors\n    parameters: {weight: 1, density: 0.3}\n  - model: task-high.safetensors\n    parameters: {weight: 1, density: 0.3}\nparameters: {lambda: 0.9}\n"
	recipeFile := filepath.Join(dir, "my-ties.yaml")
	if err := os.WriteFile(recipeFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	b := openPage(t)
	dropOn(t, b, ".dropzone", append([]string{recipeFile}, paths...))
	waitFor(t, b, modelsListed(paths)+` && `+editorText+` === `+fmt.Sprintf("%q", text), 30*time.Second)
	if eval[bool](t, b, `document.querySelector('[data-model="my-ties.yaml"]') !== null`) {
		t.Error("the recipe file is listed as a model")
	}
	waitFor(t, b, runEnabled, 30*time.Second)
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
}

// A typed model name with a typo says which loaded file was meant (before: only "which
// is not loaded: drop that file").
func TestWalkthroughModelNameTypo(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	typeRecipe(t, b, "merge_method: linear\nmodels:\n  - model: finetune-01.safetensor\n  - model: finetune-02.safetensors\n")
	waitFor(t, b, errorVisible, 30*time.Second)
	if msg := eval[string](t, b, errorText); !strings.Contains(msg, `"finetune-01.safetensor", which is not loaded (did you mean "finetune-01.safetensors"?)`) {
		t.Errorf("a misspelt model name: %q", msg)
	}
}
