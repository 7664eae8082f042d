package playground

// The defects a newcomer met on the page (issue 8, deliverable 7), each driven as a
// person would: clicks, typing, files chosen or dropped, at desktop and phone sizes.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/site/browsertest"
)

// openLab clicks a lab's button and waits until its files are listed and Run is enabled.
func openLab(t *testing.T, b *browsertest.Browser, name string) {
	t.Helper()
	lab := readLab(t, name)
	click(t, b, "lab-"+name)
	waitFor(t, b, `document.querySelector('[data-testid=lab-`+name+`]').getAttribute('aria-pressed') === 'true' && `+modelsListed(lab)+` && `+runEnabled, 60*time.Second)
}

// readLab lists a bundled lab's models: its files but the dataset, which the page
// lists as a dataset.
func readLab(t *testing.T, name string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(labDir(t, name), "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lab struct {
		Files []string
		Data  string
	}
	if err := json.Unmarshal(raw, &lab); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range lab.Files {
		if f != lab.Data {
			out = append(out, f)
		}
	}
	return out
}

// choose picks an option of a <select> as a person does: value, then change.
func choose(t *testing.T, b *browsertest.Browser, sel, value string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); e.value = %q; e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, value))
}

// typeInto types text into an input as a person does: value, then input.
func typeInto(t *testing.T, b *browsertest.Browser, sel, text string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, sel, text))
}

const (
	downloadOffered = `(() => { const d = document.querySelector('[data-testid=download]'); return d.hasAttribute('href') || document.querySelector('[data-testid=status]').textContent.includes('Ready to download'); })()`
	activeIsBody    = `document.activeElement === null || document.activeElement === document.body`
)

// A result is withdrawn as soon as the method, the recipe or the lab that made it changes.
func TestNewcomerStaleResultIsWithdrawn(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	run := func() {
		t.Helper()
		waitFor(t, b, runEnabled, 10*time.Second)
		click(t, b, "run")
		waitFor(t, b, hasResult, 60*time.Second)
	}
	run()
	choose(t, b, `[data-testid=method-select]`, "task_arithmetic")
	if eval[bool](t, b, downloadOffered) {
		t.Errorf("after a change of method the old result is still offered: %q", eval[string](t, b, statusText))
	}
	choose(t, b, `[data-testid=method-select]`, "linear")
	run()
	typeRecipe(t, b, strings.Replace(eval[string](t, b, editorText), "merge_method: linear", "merge_method: linear\nparameters: {normalize: false}", 1))
	if eval[bool](t, b, downloadOffered) {
		t.Errorf("after an edit of the recipe the old result is still offered: %q", eval[string](t, b, statusText))
	}
	run()
	click(t, b, "lab-task-arithmetic")
	waitFor(t, b, `document.querySelector('[data-testid=lab-task-arithmetic]').getAttribute('aria-pressed') === 'true'`, 60*time.Second)
	if eval[bool](t, b, downloadOffered) {
		t.Errorf("after opening another lab the old result is still offered: %q", eval[string](t, b, statusText))
	}
}

// Opening a lab replaces the previous lab's files; "Clear all" empties the list.
func TestNewcomerLabReplacesFilesAndClearAll(t *testing.T) {
	b := openPage(t)
	dropped := burnFixtures(t)[2:]
	setFiles(t, b, dropped)
	waitFor(t, b, modelsListed(dropped), 30*time.Second)
	for _, lab := range []string{"soups", "task-arithmetic", "rebasin"} {
		openLab(t, b, lab)
	}
	want := append([]string{filepath.Base(dropped[0])}, readLab(t, "rebasin")...)
	got := eval[[]string](t, b, `[...document.querySelectorAll('[data-testid=model-list] > li')].map(li => li.dataset.model)`)
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after three labs the model list holds %d entries %q, want the dropped file and the last lab's files %q", len(got), got, want)
	}
	if !eval[bool](t, b, `document.querySelector('[data-testid=clear-models]') !== null`) {
		t.Fatal("no clear-all button")
	}
	click(t, b, "clear-models")
	waitFor(t, b, `document.querySelectorAll('[data-testid=model-list] > li').length === 0`, 10*time.Second)
	if eval[bool](t, b, runEnabled) {
		t.Error("Run is enabled with no models")
	}
}

// dare_ties shows one seed field, and it sets the recipe's seed.
func TestNewcomerDareTiesHasOneSeed(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "task-arithmetic")
	choose(t, b, `[data-testid=method-select]`, "dare_ties")
	seeds := eval[[]string](t, b, `[...document.querySelectorAll('.card.method input, .card.method select')].filter(e => [...(e.labels || [])].some(l => /\bseed\b/.test(l.textContent))).map(e => e.id)`)
	if len(seeds) != 1 {
		t.Fatalf("the dare_ties form has %d seed fields %q, want 1", len(seeds), seeds)
	}
	typeInto(t, b, "#"+seeds[0], "7")
	if text := eval[string](t, b, editorText); !strings.Contains(text, "seed: 7") {
		t.Errorf("the seed field does not reach the recipe:\n%s", text)
	}
}

// writeFloats writes a one-tensor safetensors file.
func writeFloats(t *testing.T, path string, vals []float32) {
	t.Helper()
	info := ckpt.Info{Name: "w", DType: dtype.F32, Shape: []int64{int64(len(vals))}}
	raw := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	err := safetensors.WriteFile(path, []ckpt.Info{info}, nil, func(w *safetensors.Writer) error { return w.WriteTensor("w", raw) })
	if err != nil {
		t.Fatal(err)
	}
}

// A failed run's error goes away once the recipe is fixed and Run is enabled again.
func TestNewcomerErrorClearsWhenRecipeIsFixed(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.safetensors"), filepath.Join(dir, "nan.safetensors")
	writeFloats(t, good, []float32{1, 2, 3})
	writeFloats(t, bad, []float32{1, float32(math.NaN()), 3})
	b := openPage(t)
	setFiles(t, b, []string{good, bad})
	waitFor(t, b, modelsListed([]string{good, bad})+" && "+runEnabled, 30*time.Second)
	click(t, b, "run")
	waitFor(t, b, errorVisible+` && document.querySelector('[data-testid=error]').textContent.includes('failed')`, 60*time.Second)
	typeRecipe(t, b, "merge_method: linear\nmodels:\n  - model: good.safetensors\n  - model: nan.safetensors\nladle: {allow_nonfinite: true}\n")
	waitFor(t, b, runEnabled, 10*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Errorf("the recipe is fixed and Run is enabled, but the error is still shown: %q", eval[string](t, b, errorText))
	}
}

// A YAML syntax error names the line it is on.
func TestNewcomerYAMLErrorNamesTheLine(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	typeRecipe(t, b, "merge_method: linear\nmodels:\n  - model: finetune-01.safetensors\n    parameters: {weight: 1}\n   - model: finetune-02.safetensors\n")
	waitFor(t, b, errorVisible, 10*time.Second)
	msg := eval[string](t, b, errorText)
	if !strings.Contains(msg, "line 5") {
		t.Errorf("the indentation error on line 5 is reported as %q", msg)
	}
}

// After an unknown method the picker still shows what the recipe says, and the method
// card says what is wrong instead of going blank.
func TestNewcomerUnknownMethodStaysVisible(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	typeRecipe(t, b, strings.Replace(eval[string](t, b, editorText), "merge_method: linear", "merge_method: tie", 1))
	waitFor(t, b, errorVisible, 10*time.Second)
	shown := eval[string](t, b, `(() => { const s = document.querySelector('[data-testid=method-select]'); return s.options[s.selectedIndex] ? s.options[s.selectedIndex].textContent : ''; })()`)
	if !regexp.MustCompile(`\btie\b`).MatchString(shown) {
		t.Errorf("the recipe says tie; the picker shows %q", shown)
	}
	card := eval[string](t, b, `document.querySelector('.card.method').innerText`)
	if !strings.Contains(card, `"tie"`) || !strings.Contains(card, "ties") {
		t.Errorf("the method card does not say that tie is unknown (did you mean ties?):\n%s", card)
	}
}

// The recipe text is checked as it is typed, with the form's messages.
func TestNewcomerRecipeCheckedAsTyped(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "task-arithmetic")
	// the form's message for a density of 2
	choose(t, b, `[data-testid=method-select]`, "ties")
	typeInto(t, b, `[data-model="task-low.safetensors"] input[id$="-density"]`, "2")
	formMsg := eval[string](t, b, `document.querySelector('[data-model="task-low.safetensors"] .field-error').textContent`)
	typeRecipe(t, b, "merge_method: ties\nbase_model: base.safetensors\nmodels:\n  - model: task-low.safetensors\n    parameters: {weight: 1, density: 2}\n  - model: task-high.safetensors\n    parameters: {weight: 1, density: 0.5}\n")
	waitFor(t, b, errorVisible, 5*time.Second)
	msg := eval[string](t, b, errorText)
	if formMsg == "" || !strings.Contains(msg, formMsg) || eval[bool](t, b, runEnabled) {
		t.Errorf("typed density 2: the page says %q (Run enabled: %v); the form says %q", msg, eval[bool](t, b, runEnabled), formMsg)
	}
	typeRecipe(t, b, "merge_method: ties\nbase_model: base.safetensors\nmodels:\n  - model: task-low.safetensors\n    parameters: {weight: 1, densty: 0.5}\n")
	waitFor(t, b, errorVisible, 5*time.Second)
	if msg := eval[string](t, b, errorText); !strings.Contains(msg, `did you mean "density"`) {
		t.Errorf("a misspelt parameter is not flagged as typed: %q", msg)
	}
}

// Unreadable files say what was found and what to do.
func TestNewcomerFileProblemsSayWhatWasFound(t *testing.T) {
	dir := t.TempDir()
	pt, err := os.ReadFile(burnFixtures(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pt")
	os.WriteFile(truncated, pt[:len(pt)/2], 0o644)
	text := filepath.Join(dir, "notes.safetensors")
	os.WriteFile(text, []byte("These are my notes about the runs.\nNot a checkpoint.\n"), 0o644)
	empty := filepath.Join(dir, "empty.safetensors")
	os.WriteFile(empty, nil, 0o644)
	b := openPage(t)
	setFiles(t, b, []string{truncated, text, empty})
	waitFor(t, b, `document.querySelectorAll('[data-testid=model-list] .model-error').length === 3`, 30*time.Second)
	msgs := map[string]string{}
	for _, n := range []string{"truncated.pt", "notes.safetensors", "empty.safetensors"} {
		msgs[n] = eval[string](t, b, fmt.Sprintf(`document.querySelector('[data-model=%q] .model-error').textContent`, n))
	}
	if m := msgs["truncated.pt"]; !strings.Contains(m, "truncated") || !strings.Contains(m, fmt.Sprintf("%d", len(pt)/2)) || strings.Contains(m, "not a valid zip file") {
		t.Errorf("truncated .pt: %q; want it to say it is truncated, at which byte", m)
	}
	if m := msgs["notes.safetensors"]; !strings.Contains(m, "text") {
		t.Errorf("a text file: %q; want it to say it holds text", m)
	}
	if m := msgs["empty.safetensors"]; !strings.Contains(m, "empty") {
		t.Errorf("an empty file: %q; want it to say it is empty", m)
	}
	if msgs["notes.safetensors"] == msgs["empty.safetensors"] {
		t.Errorf("a text file and an empty file get the same message %q", msgs["empty.safetensors"])
	}
}

// After opening a lab, Run can be reached without scrolling, on a desktop and on a phone.
func TestNewcomerRunIsReachable(t *testing.T) {
	b := openPage(t)
	defer chromedp.Do(b.Ctx, chromedp.EmulateViewport(1200, 900))
	for _, size := range []struct{ w, h int64 }{{1280, 900}, {390, 844}} {
		if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(size.w, size.h)); err != nil {
			t.Fatal(err)
		}
		if err := b.Navigate(sharedSrv.URL + "/"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, b, `document.querySelector('[data-testid=run]') !== null && !document.body.textContent.includes('Looking for bundled labs')`, 30*time.Second)
		openLab(t, b, "soups")
		for _, at := range []string{"top", "lab"} {
			if at == "top" {
				eval[bool](t, b, `(window.scrollTo(0, 0), true)`)
			} else {
				eval[bool](t, b, `(document.querySelector('#lab-h').scrollIntoView(), true)`)
			}
			time.Sleep(100 * time.Millisecond)
			pos := eval[string](t, b, `(() => { const r = document.querySelector('[data-testid=run]').getBoundingClientRect();
				const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
				const onScreen = r.top >= 0 && r.bottom <= window.innerHeight && r.width > 0;
				return (onScreen && hit && hit.closest('[data-testid=run]') ? 'reachable' : 'hidden') + ' at ' + Math.round(r.top) + ' of ' + window.innerHeight; })()`)
			if !strings.HasPrefix(pos, "reachable") {
				t.Errorf("%dx%d, scrolled to the %s: Run is %s", size.w, size.h, at, pos)
			}
		}
	}
}

// Focus stays on something meaningful after Run and after opening a lab, and every
// per-model input has a name of its own.
func TestNewcomerFocusAndNames(t *testing.T) {
	b := openPage(t)
	click(t, b, "lab-soups")
	waitFor(t, b, `document.querySelector('[data-testid=lab-soups]').getAttribute('aria-pressed') === 'true' && `+runEnabled, 60*time.Second)
	if eval[bool](t, b, activeIsBody) {
		t.Error("after opening a lab the focus fell back to the body")
	}
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
	time.Sleep(200 * time.Millisecond)
	if eval[bool](t, b, activeIsBody) {
		t.Error("after Run the focus fell back to the body")
	}
	names := eval[[]string](t, b, `[...document.querySelectorAll('[data-testid=model-list] .per-model input, [data-testid=model-list] .per-model select')].map(e => e.getAttribute('aria-label') || [...e.labels].map(l => l.textContent).join(' '))`)
	if len(names) < 10 {
		t.Fatalf("%d per-model inputs: %q", len(names), names)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] || !strings.Contains(n, ".safetensors") {
			t.Errorf("per-model input named %q: want a name of its own, naming its model", n)
		}
		seen[n] = true
	}
}

// The progress total stays put during a run; Cancel resets the bar.
func TestNewcomerProgressIsSteady(t *testing.T) {
	b := openPage(t)
	paths := bigModels(t)
	setFiles(t, b, paths)
	waitFor(t, b, modelsListed(paths)+" && "+runEnabled, 30*time.Second)
	eval[bool](t, b, `(() => { window.ladleStatuses = []; new MutationObserver(() => window.ladleStatuses.push(document.querySelector('[data-testid=status]').textContent))
		.observe(document.querySelector('[data-testid=status]'), {childList: true, subtree: true, characterData: true}); return true; })()`)
	click(t, b, "run")
	waitFor(t, b, hasResult, 120*time.Second)
	statuses := eval[[]string](t, b, `window.ladleStatuses`)
	totals := map[string]bool{}
	re := regexp.MustCompile(`of (\d+) tensors, [^,]* of ([^,]*),`)
	for _, s := range statuses {
		if m := re.FindStringSubmatch(s); m != nil {
			totals[m[1]+" tensors, "+m[2]] = true
		}
	}
	if len(totals) != 1 {
		t.Errorf("the progress total changed during the run: %v", totals)
	}
	click(t, b, "run")
	waitFor(t, b, `document.querySelector('[data-testid=status]').textContent.startsWith('Merging') && Number(document.querySelector('[data-testid=progress]').value) > 0`, 60*time.Second)
	click(t, b, "cancel")
	waitFor(t, b, `document.querySelector('[data-testid=status]').textContent.startsWith('Cancelled')`, 30*time.Second)
	if v := eval[float64](t, b, `Number(document.querySelector('[data-testid=progress]').value)`); v != 0 {
		t.Errorf("after Cancel the progress bar stays at %v", v)
	}
}

// The download is named after the method and the models.
func TestNewcomerDownloadName(t *testing.T) {
	b := openPage(t)
	openLab(t, b, "soups")
	click(t, b, "run")
	waitFor(t, b, hasResult, 60*time.Second)
	if got := eval[string](t, b, `document.querySelector('[data-testid=download]').getAttribute('download')`); got != "linear-finetune-01+finetune-02+8-more.safetensors" {
		t.Errorf("the download is named %q", got)
	}
}
