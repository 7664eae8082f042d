package playground

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ladle/core/analyze"
	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
)

// labDir is a bundled lab's folder in the source tree.
func labDir(t *testing.T, name string) string {
	t.Helper()
	root, err := ckpttest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "public", "labs", name)
}

// nativeAnalysis is `ladle analyze --base BASE MODELS... --density D --json` run on the
// lab's files, as the raw number strings the command prints (json.Number keeps them).
type nativeAnalysis struct {
	Models  []string
	Cosine  [][]json.Number
	Tensors []struct {
		Name         string
		Norms        []json.Number
		SignConflict json.Number   `json:"sign_conflict"`
		TiesAgree    []json.Number `json:"ties_agree"`
	}
}

func analyzeNatively(t *testing.T, dir, base string, models []string, density float64) nativeAnalysis {
	t.Helper()
	open := func(n string) analyze.Input {
		src, err := ckpt.Open(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return analyze.Input{Name: n, Source: src}
	}
	var ins []analyze.Input
	for _, m := range models {
		ins = append(ins, open(m))
	}
	res, err := analyze.Analyze(context.Background(), open(base), ins, analyze.Options{Density: density})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(res) // what `ladle analyze --json` prints
	var out nativeAnalysis
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The Analysis view's numbers are the command's, character for character: open the
// task-arithmetic lab, type a density, press Analyze.
func TestPlaygroundAnalysisEqualsCommand(t *testing.T) {
	b := openPage(t)
	click(t, b, "lab-task-arithmetic")
	waitFor(t, b, modelsListed([]string{"base.safetensors", "task-low.safetensors", "task-high.safetensors"})+` && `+runEnabled, 60*time.Second)
	eval[bool](t, b, `(() => { const e = document.querySelector('[data-testid=analysis-density]'); e.focus(); e.value = '0.3'; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
	waitFor(t, b, `!document.querySelector('[data-testid=analyze]').disabled`, 10*time.Second)
	click(t, b, "analyze")
	waitFor(t, b, `document.querySelectorAll('[data-testid=cosine-cell]').length > 0`, 60*time.Second)

	base := eval[string](t, b, `document.querySelector('[data-testid=analysis-base]').value`)
	models := eval[[]string](t, b, `[...document.querySelectorAll('table.heatmap thead th[title]')].map(e => e.title)`)
	if base != "base.safetensors" || len(models) != 2 {
		t.Fatalf("the view analyzed base %q with models %q; want the recipe's base and its two task models", base, models)
	}
	want := analyzeNatively(t, labDir(t, "task-arithmetic"), base, models, 0.3)

	type cell struct{ I, J, Value string }
	cells := eval[[]cell](t, b, `[...document.querySelectorAll('[data-testid=cosine-cell]')].map(e => ({I: e.dataset.i, J: e.dataset.j, Value: e.dataset.value}))`)
	if len(cells) != 4 {
		t.Fatalf("%d cosine cells, want 4", len(cells))
	}
	for _, c := range cells {
		var i, j int
		fmt.Sscan(c.I, &i)
		fmt.Sscan(c.J, &j)
		if w := want.Cosine[i][j].String(); c.Value != w {
			t.Errorf("cosine-cell %s,%s: data-value %q, ladle analyze --json prints %q", c.I, c.J, c.Value, w)
		}
	}
	type row struct {
		Tensor string
		Values []string
	}
	rows := eval[[]row](t, b, `[...document.querySelectorAll('[data-testid=tensor-row]')].map(r => ({Tensor: r.dataset.tensor, Values: [...r.querySelectorAll('td[data-value]')].map(td => td.dataset.value)}))`)
	if len(rows) != len(want.Tensors) {
		t.Fatalf("%d tensor rows, want %d", len(rows), len(want.Tensors))
	}
	for k, r := range rows {
		wt := want.Tensors[k]
		var w []string
		for _, n := range wt.Norms {
			w = append(w, n.String())
		}
		w = append(w, wt.SignConflict.String())
		for _, n := range wt.TiesAgree {
			w = append(w, n.String())
		}
		if r.Tensor != wt.Name || fmt.Sprint(r.Values) != fmt.Sprint(w) {
			t.Errorf("tensor row %d: %s %v, want %s %v", k, r.Tensor, r.Values, wt.Name, w)
		}
	}
	// another density: the numbers shown are marked as not the current selection's
	eval[bool](t, b, `(() => { const e = document.querySelector('[data-testid=analysis-density]'); e.focus(); e.value = '0.6'; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
	waitFor(t, b, `document.querySelector('[data-testid=analysis-stale]') !== null`, 5*time.Second)
	click(t, b, "analyze")
	waitFor(t, b, `document.querySelector('[data-testid=analysis-stale]') === null && document.querySelector('[data-testid=status]') !== null && /TIES density 0.6/.test(document.querySelector('[data-testid=analysis]').textContent)`, 60*time.Second)
	eval[bool](t, b, `(() => { const e = document.querySelector('[data-testid=analysis-density]'); e.value = '0.3'; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
	click(t, b, "analyze")
	waitFor(t, b, `/TIES density 0.3/.test(document.querySelector('[data-testid=analysis]').textContent)`, 60*time.Second)
	if os.Getenv("LADLE_SCREENSHOT") != "" {
		png, err := chromedp.Run(b.Ctx, chromedp.Screenshot(chromedp.CSS(`[data-testid=analysis]`)))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(filepath.Dir(labDir(t, "x")), "..", "screenshot-analysis.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}
