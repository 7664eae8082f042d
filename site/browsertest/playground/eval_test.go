package playground

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ladle/core/ckpt/ckpttest"
	"ladle/site/browsertest"
	"ladle/ui/state"
)

var (
	ladleOnce sync.Once
	ladleBin  string
	ladleErr  error
)

// ladleEvalJSON runs the real `ladle eval --json` (built once from ./cmd/ladle) and
// returns the raw JSON numbers it prints: accuracy, loss and n. extra are more
// arguments (--arch FILE).
func ladleEvalJSON(t *testing.T, model, data, split string, extra ...string) map[string]string {
	t.Helper()
	ladleOnce.Do(func() {
		root, err := ckpttest.RepoRoot()
		if err != nil {
			ladleErr = err
			return
		}
		dir, err := os.MkdirTemp("", "ladle-bin-")
		if err != nil {
			ladleErr = err
			return
		}
		ladleBin = filepath.Join(dir, "ladle")
		cmd := exec.Command("go", "build", "-o", ladleBin, "./cmd/ladle")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			ladleErr = fmt.Errorf("go build ./cmd/ladle: %v\n%s", err, out)
		}
	})
	if ladleErr != nil {
		t.Fatal(ladleErr)
	}
	args := []string{"eval", model, "--data", data, "--json"}
	if split != "" {
		args = append(args, "--split", split)
	}
	args = append(args, extra...)
	out, err := exec.Command(ladleBin, args...).Output()
	if err != nil {
		t.Fatalf("ladle %s: %v", strings.Join(args, " "), err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("ladle eval --json printed %q: %v", out, err)
	}
	m := map[string]string{}
	for k, v := range raw {
		m[k] = string(v)
	}
	return m
}

const (
	evalIdle  = `!document.querySelector('[data-testid=evaluate]').disabled`
	sweepIdle = `!document.querySelector('[data-testid=sweep]').disabled`
)

// rowAttrs is the JavaScript that reads the eval-row of a model.
func rowAttrs(model string) string {
	return fmt.Sprintf(`(() => { const r = document.querySelector('[data-testid=eval-row][data-model=%q]'); if (!r) return null;
		return {accuracy: r.dataset.accuracy, loss: r.dataset.loss, n: r.dataset.n}; })()`, model)
}

// allScored is true once n eval-rows show their scores (none pending).
func allScored(n int) string {
	return fmt.Sprintf(`(() => { const rows = [...document.querySelectorAll('[data-testid=eval-row]')]; return rows.length === %d && rows.every(r => r.dataset.accuracy); })()`, n)
}

func hasRow(model string) string {
	return fmt.Sprintf(`(() => { const r = document.querySelector('[data-testid=eval-row][data-model=%q]'); return r !== null && r.dataset.accuracy !== ''; })()`, model)
}

// TestPlaygroundEvaluateSoups walks the soups lab as a person would: open it, run the
// uniform soup (evaluated at once, as the lab's dataset is loaded), press Evaluate,
// switch the split, and checks every eval-row against `ladle eval --json` of the
// downloaded result and of the lab's files; then sweeps WiSE-FT's alpha and checks a
// point against `ladle merge` + `ladle eval` of its recipe, clicks a point to merge
// it, and runs the greedy soup to see its trace.
func TestPlaygroundEvaluateSoups(t *testing.T) {
	b := openPage(t)
	labDir := filepath.Join(sharedDist, "labs", "soups")
	if _, err := os.Stat(filepath.Join(labDir, "lab.json")); err != nil {
		t.Skip("the soups lab is not bundled")
	}
	data := filepath.Join(labDir, "data.safetensors")
	click(t, b, "lab-soups")
	waitFor(t, b, modelsListed([]string{"finetune-10.safetensors"})+
		` && document.querySelector('[data-testid=dataset-select]').value === 'data.safetensors'`, 60*time.Second)
	// the dataset is a dataset, not a model
	if eval[bool](t, b, `document.querySelector('[data-testid=model-list] [data-model="data.safetensors"]') !== null`) {
		t.Error("data.safetensors is listed as a model")
	}
	if got := eval[string](t, b, `[...document.querySelector('[data-testid=split-select]').options].map(o => o.value).join(',')`); got != "test,val" {
		t.Errorf("the split picker offers %q, want test,val", got)
	}
	// Run the uniform soup: its result is evaluated at once.
	waitFor(t, b, runEnabled, 10*time.Second)
	click(t, b, "run")
	waitFor(t, b, hasResult+" || "+errorVisible, 60*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Fatalf("the uniform soup failed\n%s", pageState(b))
	}
	waitFor(t, b, hasRow(state.ResultName), 60*time.Second)
	result := filepath.Join(t.TempDir(), "uniform.safetensors")
	if err := os.WriteFile(result, download(t, b), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(model, path, split string) {
		t.Helper()
		got := eval[map[string]string](t, b, rowAttrs(model))
		want := ladleEvalJSON(t, path, data, split)
		if got["accuracy"] != want["accuracy"] || got["loss"] != want["loss"] || got["n"] != want["n"] {
			t.Errorf("split %q: the page's eval-row of %s is %v; ladle eval --json prints %v", split, model, got, want)
		}
	}
	// The result alone was split over every engine worker (each scored part of the
	// samples), and its figures are still ladle eval's, bit for bit.
	waitFor(t, b, evalIdle, 60*time.Second)
	workers := eval[string](t, b, `document.querySelector('[data-testid=eval-status]').dataset.workers`)
	if pool := eval[int](t, b, `Math.min(navigator.hardwareConcurrency, 4)`); workers != fmt.Sprint(pool) {
		t.Errorf("the result's evaluation took %s workers; the page has %d", workers, pool)
	}
	check(state.ResultName, result, "")
	// Evaluate scores every model and the result.
	click(t, b, "evaluate")
	waitFor(t, b, allScored(12), 120*time.Second)
	check(state.ResultName, result, "")
	check("finetune-03.safetensors", filepath.Join(labDir, "finetune-03.safetensors"), "")
	check("pre.safetensors", filepath.Join(labDir, "pre.safetensors"), "test")
	// The table keeps the lab's build-time figure apart: the uniform soup's, for the result.
	if raw, err := os.ReadFile(filepath.Join(labDir, "lab.json")); err == nil {
		if lab, err := state.ParseLab("soups", raw); err == nil {
			want := state.Percent(lab.Results.Soups[0].Accuracy)
			if got := eval[string](t, b, `document.querySelector('[data-testid=eval-row][data-model=result] td.built').textContent`); got != want {
				t.Errorf("the result's build-time figure is %q, want the lab's %q", got, want)
			}
		}
	}
	// The first row is the result.
	if first := eval[string](t, b, `document.querySelector('[data-testid=eval-row]').dataset.model`); first != state.ResultName {
		t.Errorf("the first row is %q, not the result", first)
	}
	// Bars are scaled to the range shown: the weakest row's bar is far shorter than
	// the best one's.
	bars := eval[[]float64](t, b, `[...document.querySelectorAll('[data-testid=eval-row] meter')].map(m => m.value)`)
	if len(bars) < 2 || minOf(bars) > 0.3 || maxOf(bars) < 0.99 {
		t.Errorf("the bars are %v: they should span the range of the values shown", bars)
	}
	// Another split.
	eval[bool](t, b, `(() => { const s = document.querySelector('[data-testid=split-select]'); s.value = 'val'; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	waitFor(t, b, evalIdle+` && document.querySelectorAll('[data-testid=eval-row]').length === 0`, 10*time.Second)
	click(t, b, "evaluate")
	waitFor(t, b, allScored(12), 120*time.Second)
	check(state.ResultName, result, "val")
	check("finetune-10.safetensors", filepath.Join(labDir, "finetune-10.safetensors"), "val")

	// Sweep WiSE-FT's alpha on the split val.
	wise := "merge_method: wise_ft\nmodels:\n  - model: pre.safetensors\n  - model: finetune-07.safetensors\nparameters: {alpha: 0.5}\n"
	typeRecipe(t, b, wise)
	waitFor(t, b, sweepIdle, 10*time.Second)
	click(t, b, "sweep")
	waitFor(t, b, sweepIdle+` && JSON.parse(document.querySelector('[data-testid=curve]').dataset.points).length === 11`, 120*time.Second)
	var points []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(eval[string](t, b, `document.querySelector('[data-testid=curve]').dataset.points`)), &points); err != nil {
		t.Fatal(err)
	}
	if string(points[3]["x"]) != "0.3" {
		t.Fatalf("point 3 is at %s, want 0.3 (11 points from 0 to 1)", points[3]["x"])
	}
	point := "merge_method: wise_ft\nmodels:\n  - model: pre.safetensors\n  - model: finetune-07.safetensors\nparameters: {alpha: 0.3}\n"
	merged := filepath.Join(t.TempDir(), "alpha0.3.safetensors")
	if err := os.WriteFile(merged, nativeMerge(t, labDir, point), 0o644); err != nil {
		t.Fatal(err)
	}
	want := ladleEvalJSON(t, merged, data, "val")
	if string(points[3]["accuracy"]) != want["accuracy"] || string(points[3]["loss"]) != want["loss"] {
		t.Errorf("sweep point alpha 0.3 is %s / %s; ladle merge + ladle eval --split val give %v", points[3]["accuracy"], points[3]["loss"], want)
	}
	if !eval[bool](t, b, `document.querySelector('[data-testid=curve-current]') !== null`) {
		t.Error("the curve does not mark the recipe's current value")
	}
	if os.Getenv("LADLE_SCREENSHOT") != "" {
		shootElement(t, b, "section.evaluate", "screenshot-eval.png")
		shootElement(t, b, "section.sweep", "screenshot-curve.png")
	}
	// A click on the point merges it as the result, which is then evaluated.
	eval[bool](t, b, `(() => { document.querySelector('[data-testid=curve-point][data-x="0.3"]').dispatchEvent(new MouseEvent('click', {bubbles: true})); return true; })()`)
	waitFor(t, b, hasResult+` && document.querySelector('[data-testid=recipe-editor]').value.includes('alpha: 0.3')`, 60*time.Second)
	waitFor(t, b, hasRow(state.ResultName), 60*time.Second)
	if got := eval[map[string]string](t, b, rowAttrs(state.ResultName)); got["accuracy"] != want["accuracy"] || got["loss"] != want["loss"] {
		t.Errorf("the merged point scores %v; ladle eval gives %v", got, want)
	}

	// The greedy soup's trace.
	eval[bool](t, b, `(() => { [...document.querySelectorAll('.lab button')].find(e => e.textContent.trim() === 'Greedy soup').click(); return true; })()`)
	waitFor(t, b, `document.querySelector('[data-testid=recipe-editor]').value.includes('greedy_soup')`, 30*time.Second)
	waitFor(t, b, runEnabled, 10*time.Second)
	click(t, b, "run")
	waitFor(t, b, `document.querySelector('[data-testid=greedy-trace]') !== null`, 120*time.Second)
	steps := eval[[]string](t, b, `[...document.querySelectorAll('[data-testid=greedy-step]')].map(e => e.dataset.model + ':' + e.dataset.kept)`)
	var record struct {
		Steps []struct {
			Model string `json:"model"`
			Kept  bool   `json:"kept"`
		} `json:"steps"`
	}
	raw := download(t, b)
	meta := headerMetadata(t, raw)
	if err := json.Unmarshal([]byte(meta[state.GreedyKey]), &record); err != nil {
		t.Fatalf("the greedy soup's %s: %v", state.GreedyKey, err)
	}
	var wantSteps []string
	for _, s := range record.Steps {
		wantSteps = append(wantSteps, fmt.Sprintf("%s:%v", s.Model, s.Kept))
	}
	if strings.Join(steps, " ") != strings.Join(wantSteps, " ") || len(steps) != 10 {
		t.Errorf("the page shows the steps %v; the result records %v", steps, wantSteps)
	}
	if n := eval[int](t, b, `document.querySelectorAll('[data-testid=greedy-rank]').length`); n != 10 {
		t.Errorf("the ranking lists %d models, want 10", n)
	}

	// Measure live: the lab's table recomputed in the tab, beside the build-time figures.
	click(t, b, "measure-live")
	waitFor(t, b, `!document.querySelector('[data-testid=measure-live]').disabled && [...document.querySelectorAll('[data-testid=lab-live]')].length === 12 && [...document.querySelectorAll('[data-testid=lab-live]')].every(e => e.dataset.accuracy)`, 120*time.Second)
	raw2, err := os.ReadFile(filepath.Join(labDir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := state.ParseLab("soups", raw2)
	if err != nil {
		t.Fatal(err)
	}
	live := eval[[]string](t, b, `[...document.querySelectorAll('[data-testid=lab-live]')].map(e => e.dataset.accuracy)`)
	for i, s := range append(append([]state.Score(nil), lab.Results.Ingredients...), lab.Results.Soups...) {
		var v float64
		if _, err := fmt.Sscan(live[i], &v); err != nil || math.Abs(v-s.Accuracy) > 0.00005 {
			t.Errorf("%s: measured live %s, at build %v", s.Name, live[i], s.Accuracy)
		}
	}
	if want := ladleEvalJSON(t, filepath.Join(labDir, "finetune-05.safetensors"), data, ""); live[4] != want["accuracy"] {
		t.Errorf("finetune-05 measured live %s; ladle eval says %s", live[4], want["accuracy"])
	}
	if want := ladleEvalJSON(t, result, data, ""); live[10] != want["accuracy"] {
		t.Errorf("the uniform soup measured live %s; ladle eval of the page's soup says %s", live[10], want["accuracy"])
	}
}

// TestPlaygroundMeasureLiveCurve: Measure live redraws the re-basin lab's curve (plain
// and aligned) in the tab.
func TestPlaygroundMeasureLiveCurve(t *testing.T) {
	b := openPage(t)
	if _, err := os.Stat(filepath.Join(sharedDist, "labs", "rebasin", "lab.json")); err != nil {
		t.Skip("the rebasin lab is not bundled")
	}
	click(t, b, "lab-rebasin")
	waitFor(t, b, `document.querySelector('[data-testid=measure-live]') !== null && document.querySelector('[data-testid=dataset-select]').value === 'data.safetensors'`, 60*time.Second)
	click(t, b, "measure-live")
	waitFor(t, b, `document.querySelector('[data-testid=lab-live-curve] polyline.aligned') !== null && !document.querySelector('[data-testid=measure-live]').disabled`, 300*time.Second)
	if eval[bool](t, b, `document.querySelector('.lab .error') !== null`) {
		t.Errorf("measuring the lab failed: %s", eval[string](t, b, `document.querySelector('.lab .error').textContent`))
	}
	// The interpolation between the two models, aligned first, in the live curve: 5
	// points, its loss barrier printed, the midpoint equal to ladle merge + ladle eval.
	eval[bool](t, b, `(() => { const r = document.querySelectorAll('input[name=sweep-mode]')[1]; r.click(); return true; })()`)
	waitFor(t, b, `document.querySelector('[data-testid=align-first]') !== null && !document.querySelector('[data-testid=align-first]').disabled`, 10*time.Second)
	eval[bool](t, b, `(() => { document.querySelector('[data-testid=align-first]').click();
		const n = document.getElementById('sweep-n'); n.value = '5'; n.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	waitFor(t, b, sweepIdle+` && document.querySelector('[data-testid=sweep]').textContent.includes('5 points') && document.querySelector('[data-testid=align-first]').checked`, 10*time.Second)
	click(t, b, "sweep")
	waitFor(t, b, sweepIdle+` && document.querySelector('[data-testid=curve]') !== null && JSON.parse(document.querySelector('[data-testid=curve]').dataset.points).length === 5 && document.querySelector('[data-testid=barrier]') !== null`, 180*time.Second)
	var points []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(eval[string](t, b, `document.querySelector('[data-testid=curve]').dataset.points`)), &points); err != nil {
		t.Fatal(err)
	}
	labDir := filepath.Join(sharedDist, "labs", "rebasin")
	mid := "merge_method: linear\nmodels:\n  - model: model-a.safetensors\n    parameters: {weight: 0.5}\n  - model: model-b.safetensors\n    parameters: {weight: 0.5}\ndtype: float32\nladle: {align: true}\n"
	merged := filepath.Join(t.TempDir(), "mid.safetensors")
	if err := os.WriteFile(merged, nativeMerge(t, labDir, mid), 0o644); err != nil {
		t.Fatal(err)
	}
	want := ladleEvalJSON(t, merged, filepath.Join(labDir, "data.safetensors"), "")
	if string(points[2]["x"]) != "0.5" || string(points[2]["accuracy"]) != want["accuracy"] || string(points[2]["loss"]) != want["loss"] {
		t.Errorf("the aligned midpoint is %v; ladle merge + ladle eval give %v", points[2], want)
	}
}

// shootElement writes a screenshot of the element sel into public/NAME.
func shootElement(t *testing.T, b *browsertest.Browser, sel, name string) {
	t.Helper()
	root, err := ckpttest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.ScrollIntoView(chromedp.CSS(sel)), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatalf("screenshot of %s: %v", sel, err)
	}
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", sel, err)
	}
	path := filepath.Join(root, "public", name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

// headerMetadata reads a safetensors file's __metadata__.
func headerMetadata(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	if len(raw) < 8 {
		t.Fatal("not a safetensors file")
	}
	n := int(raw[0]) | int(raw[1])<<8 | int(raw[2])<<16 | int(raw[3])<<24
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(raw[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	return h.Meta
}

// labModels are a lab's files that the model list shows: all but its dataset, which is
// listed as a dataset.
func labModels(lab *state.Lab) []string {
	var out []string
	for _, f := range lab.Files {
		if f != lab.Data {
			out = append(out, f)
		}
	}
	return out
}

// TestPlaygroundGreedySoupTestSplit: a greedy soup whose ladle.eval.split is "test"
// reads the dataset's default split (x and y), as `ladle eval --split test` does: the
// page's as-you-type check accepts it, the merge runs, and its bytes equal `ladle
// merge` of the same recipe; a split the dataset lacks is refused before Run, in the
// command's words.
func TestPlaygroundGreedySoupTestSplit(t *testing.T) {
	b := openPage(t)
	labDir := filepath.Join(sharedDist, "labs", "soups")
	if _, err := os.Stat(filepath.Join(labDir, "lab.json")); err != nil {
		t.Skip("the soups lab is not bundled")
	}
	click(t, b, "lab-soups")
	waitFor(t, b, modelsListed([]string{"finetune-04.safetensors"})+
		` && document.querySelector('[data-testid=dataset-select]').value === 'data.safetensors'`, 60*time.Second)
	recipe := func(split string) string {
		return "merge_method: greedy_soup\nmodels: [finetune-02.safetensors, finetune-03.safetensors, finetune-04.safetensors]\ndtype: float32\nladle:\n  eval: {data: data.safetensors, split: " + split + "}\n"
	}
	typeRecipe(t, b, recipe("nosuch"))
	waitFor(t, b, errorVisible, 10*time.Second)
	if msg := eval[string](t, b, errorText); !strings.Contains(msg, `data.safetensors has no split "nosuch" (tensors x.nosuch and y.nosuch)`) || eval[bool](t, b, runEnabled) {
		t.Errorf("a split the dataset lacks: run enabled %v, error %q", eval[bool](t, b, runEnabled), msg)
	}
	text := recipe("test")
	typeRecipe(t, b, text)
	waitFor(t, b, runEnabled, 10*time.Second)
	click(t, b, "run")
	waitFor(t, b, hasResult+" || "+errorVisible, 120*time.Second)
	if eval[bool](t, b, errorVisible) {
		t.Fatalf("the greedy soup on split test failed\n%s", pageState(b))
	}
	if got, want := download(t, b), nativeMerge(t, labDir, text); !bytes.Equal(got, want) {
		t.Fatalf("the page's greedy soup (%d bytes) differs from `ladle merge` (%d bytes)", len(got), len(want))
	}
}
