package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"ladle/core/ckpt"
	"ladle/core/eval"
	"ladle/core/nn"
	"ladle/site/browsertest"
	"ladle/ui/state"
	"ladle/ui/wire"
)

// benchEval measures evaluation in the tab against the native command:
//
//   - burn-mnist's run-a.pt (the shared fixtures) on the 10,000 MNIST test images,
//     natively as `ladle eval --threads 1` (exact, the default, and --fast) and in
//     one engine worker (an evaluate request), whose answer must be the same strings;
//   - an 11-point sweep of the soups lab in the playground page (WiSE-FT's alpha from
//     pre.safetensors to finetune-07.safetensors on the split val), timed from the
//     click on Sweep to the last point drawn.
func benchEval(ctx context.Context, root, dist string, runs int) error {
	log := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	fixtures := os.Getenv("LADLE_FIXTURES")
	if fixtures == "" {
		fixtures = filepath.Join(root, "..", "shared", "fixtures")
	}
	model := filepath.Join(fixtures, "burn-mnist", "run-a.pt")
	archPath := filepath.Join(root, "core", "eval", "testdata", "burn-mnist.arch.json")
	work, err := os.MkdirTemp("", "ladle-bench-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Printf("\nEvaluation in the tab (%d cores)\n\n", hwCores())
	if _, err := os.Stat(model); err != nil {
		fmt.Printf("  burn-mnist skipped: %v (the shared fixtures are absent)\n", err)
	} else if data, err := browsertest.WriteMNIST(work); err != nil {
		fmt.Printf("  burn-mnist skipped: %v\n", err)
	} else {
		log("evaluating burn-mnist on MNIST natively and in an engine worker...")
		if err := benchMNIST(ctx, dist, model, archPath, data, runs); err != nil {
			return err
		}
	}
	log("sweeping the soups lab in the playground...")
	return benchSweep(ctx, dist, runs)
}

// nativeEval is `ladle eval MODEL --arch ARCH --data DATA --threads N [--fast]`: the
// time from opening the files to the result, and the JSON it prints.
func nativeEval(model, archPath, data string, threads int, fast bool) (time.Duration, string, error) {
	start := time.Now()
	archJSON, err := os.ReadFile(archPath)
	if err != nil {
		return 0, "", err
	}
	arch, err := nn.ParseArch(archJSON)
	if err != nil {
		return 0, "", err
	}
	src, err := ckpt.Open(model)
	if err != nil {
		return 0, "", err
	}
	defer src.Close()
	m, err := nn.Load(arch, src)
	if err != nil {
		return 0, "", err
	}
	m.SetThreads(threads)
	m.SetExact(!fast)
	d, err := eval.LoadDataset(data)
	if err != nil {
		return 0, "", err
	}
	r, err := eval.Evaluate(m, d, eval.DefaultBatch)
	if err != nil {
		return 0, "", err
	}
	b, _ := json.Marshal(r)
	return time.Since(start), string(b), nil
}

func benchMNIST(ctx context.Context, dist, model, archPath, data string, runs int) error {
	best := func(threads int, fast bool) (time.Duration, string, error) {
		return bestOf(runs, func() (time.Duration, string, error) { return nativeEval(model, archPath, data, threads, fast) })
	}
	exact1, want, err := best(1, false)
	if err != nil {
		return err
	}
	fast1, _, err := best(1, true)
	if err != nil {
		return err
	}
	exactAll, _, err := best(0, false)
	if err != nil {
		return err
	}
	archText, err := os.ReadFile(archPath)
	if err != nil {
		return err
	}
	srv, err := browsertest.Serve(browsertest.Overlay(browsertest.TestPage(), os.DirFS(dist)))
	if err != nil {
		return err
	}
	defer srv.Close()
	b, err := browsertest.Start(ctx, browsertest.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Navigate(srv.URL + "/enginetest.html"); err != nil {
		return err
	}
	if _, err := browsertest.Eval[int](b, "ladleTest.start(1)"); err != nil {
		return err
	}
	if err := b.SetFiles("#files", []string{model, data}); err != nil {
		return err
	}
	type answer struct {
		Type    string  `json:"type"`
		Seconds float64 `json:"seconds"`
		Wall    float64 `json:"wall"`
		Results []struct {
			Accuracy string `json:"accuracy"`
			Loss     string `json:"loss"`
			N        string `json:"n"`
			Error    string `json:"error"`
		} `json:"results"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	// One worker, then the same evaluation split over every engine worker the page
	// starts, as the page splits one model (state.PlanEval), each part on its own
	// worker, joined as the page joins them (wire.CombineEval). The runs alternate, so
	// that both meet the same load; both are timed from the post to the last answer.
	hc, _ := browsertest.Eval[int](b, `navigator.hardwareConcurrency`)
	workers := state.WorkerCount(hc)
	if _, err := browsertest.Eval[int](b, fmt.Sprintf("ladleTest.start(%d)", workers)); err != nil {
		return err
	}
	req := fmt.Sprintf(`(async () => { const t0 = performance.now();
		const m = await ladleTest.request({type: "evaluate", files: ladleTest.files(), eval: {models: [%q], data: %q, arch: %q}});
		m.wall = (performance.now() - t0) / 1000; return m; })()`,
		filepath.Base(model), filepath.Base(data), archText)
	splitReq := fmt.Sprintf(`(async () => { const t0 = performance.now();
		const ms = await Promise.all([...Array(%d).keys()].map(i => ladleTest.request({type: "evaluate", files: ladleTest.files(), part: {index: i, count: %d}, eval: {models: [%q], data: %q, arch: %q}}, i)));
		return {seconds: (performance.now() - t0) / 1000, parts: ms.map(m => JSON.stringify(m.results ? m.results[0] : m))}; })()`,
		workers, workers, filepath.Base(model), filepath.Base(data), archText)
	type splitAnswer struct {
		Seconds float64  `json:"seconds"`
		Parts   []string `json:"parts"`
	}
	var (
		tab    answer
		split  splitAnswer
		joined wire.EvalResult
	)
	for i := range max(runs, 1) {
		a, err := browsertest.Eval[answer](b, req)
		if err != nil {
			return err
		}
		if a.Type != "evaluated" || len(a.Results) != 1 || a.Results[0].Error != "" {
			return fmt.Errorf("the engine's evaluation failed: %+v", a)
		}
		if i == 0 || a.Wall < tab.Wall {
			tab = a
		}
		sa, err := browsertest.Eval[splitAnswer](b, splitReq)
		if err != nil {
			return err
		}
		parts := make([]wire.EvalResult, len(sa.Parts))
		for j, raw := range sa.Parts {
			if err := json.Unmarshal([]byte(raw), &parts[j]); err != nil || parts[j].Part == nil {
				return fmt.Errorf("part %d of the split evaluation answered %s", j, raw)
			}
		}
		if i == 0 || sa.Seconds < split.Seconds {
			split, joined = sa, wire.CombineEval(parts)
		}
	}
	r := tab.Results[0]
	got := fmt.Sprintf(`{"accuracy":%s,"loss":%s,"n":%s}`, r.Accuracy, r.Loss, r.N)
	gotSplit := fmt.Sprintf(`{"accuracy":%s,"loss":%s,"n":%s}`, joined.Accuracy, joined.Loss, joined.N)
	fmt.Printf("  burn-mnist run-a.pt on the 10,000 MNIST test images (best of %d; files opened, model loaded, all samples)\n", max(runs, 1))
	fmt.Printf("  %-54s %8.2fs\n", "native, ladle eval --threads 1 (exact, the default)", exact1.Seconds())
	fmt.Printf("  %-54s %8.2fs\n", "native, ladle eval --threads 1 --fast (AVX/FMA)", fast1.Seconds())
	fmt.Printf("  %-54s %8.2fs\n", "native, ladle eval (exact, all cores)", exactAll.Seconds())
	fmt.Printf("  %-54s %8.2fs  %.2fx the native one-thread time (%.2fs in the worker)\n", "tab: one engine worker (wasm)", tab.Wall, tab.Wall/exact1.Seconds(), tab.Seconds)
	fmt.Printf("  %-54s %8.2fs  %.2fx the native one-thread time\n", fmt.Sprintf("tab: split over the page's %d engine workers", workers), split.Seconds, split.Seconds/exact1.Seconds())
	var partSecs []string
	for _, raw := range split.Parts {
		var p wire.EvalResult
		if json.Unmarshal([]byte(raw), &p) == nil {
			partSecs = append(partSecs, fmt.Sprintf("%.2fs", p.Seconds))
		}
	}
	fmt.Printf("  %-54s %s\n", "  each part in its worker", strings.Join(partSecs, ", "))
	fmt.Printf("  the tab prints %s; ladle eval prints %s: identical %v\n", got, want, got == want)
	fmt.Printf("  split over %d workers, the tab prints %s: identical %v\n", workers, gotSplit, gotSplit == want)
	if got != want || gotSplit != want {
		return fmt.Errorf("the tab's evaluation differs from ladle eval's")
	}
	return nil
}

// benchSweep times an 11-point WiSE-FT sweep of the soups lab in the playground page.
func benchSweep(ctx context.Context, dist string, runs int) error {
	if _, err := os.Stat(filepath.Join(dist, "labs", "soups", "lab.json")); err != nil {
		fmt.Printf("  sweep skipped: the soups lab is not bundled\n")
		return nil
	}
	srv, err := browsertest.Serve(os.DirFS(dist))
	if err != nil {
		return err
	}
	defer srv.Close()
	b, err := browsertest.Start(ctx, browsertest.Options{})
	if err != nil {
		return err
	}
	defer b.Close()
	poll := func(expr string, d time.Duration) error {
		c, cancel := context.WithTimeout(b.Ctx, d+5*time.Second)
		defer cancel()
		_, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(5*time.Millisecond), chromedp.WithPollingTimeout(d)))
		return err
	}
	if err := b.Navigate(srv.URL + "/?lab=soups"); err != nil {
		return err
	}
	if err := poll(`document.querySelector('[data-testid=dataset-select]') && document.querySelector('[data-testid=dataset-select]').value === 'data.safetensors' && document.querySelector('[data-testid=model-list]').textContent.includes('finetune-10')`, 60*time.Second); err != nil {
		return fmt.Errorf("opening the soups lab: %w", err)
	}
	wise := "merge_method: wise_ft\nmodels:\n  - model: pre.safetensors\n  - model: finetune-07.safetensors\nparameters: {alpha: 0.5}\n"
	setup := fmt.Sprintf(`(() => { const e = document.querySelector('[data-testid=recipe-editor]'); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true}));
		const s = document.querySelector('[data-testid=split-select]'); s.value = 'val'; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, wise)
	if _, err := browsertest.Eval[bool](b, setup); err != nil {
		return err
	}
	workers, _ := browsertest.Eval[int](b, `navigator.hardwareConcurrency`)
	var bestSecs float64
	for i := range max(runs, 1) {
		if err := poll(`!document.querySelector('[data-testid=sweep]').disabled`, 30*time.Second); err != nil {
			return err
		}
		// the page's own clock, from the click to the 11th point in data-points
		secs, err := browsertest.Eval[float64](b, `new Promise((resolve) => {
			const t0 = performance.now();
			document.querySelector('[data-testid=sweep]').click();
			const check = () => {
				const c = document.querySelector('[data-testid=curve]');
				const n = c ? JSON.parse(c.dataset.points).length : 0;
				const idle = !document.querySelector('[data-testid=sweep]').disabled;
				if (n === 11 && idle) { resolve((performance.now() - t0) / 1000); return; }
				setTimeout(check, 5);
			};
			setTimeout(check, 5);
		})`)
		if err != nil {
			return err
		}
		if i == 0 || secs < bestSecs {
			bestSecs = secs
		}
	}
	fmt.Printf("\n  soups lab: an 11-point sweep (wise_ft alpha 0..1, each point merged and evaluated on the 719 samples of val)\n")
	fmt.Printf("  %-54s %8.2fs  (best of %d; hardwareConcurrency %d)\n", "tab: click on Sweep to the 11th point drawn", bestSecs, max(runs, 1), workers)
	return nil
}
