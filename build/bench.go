package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	_ "ladle/core/ckpt/all"
	"ladle/core/ckpt/safetensors"
	"ladle/core/plan"
	"ladle/core/recipe"
	"ladle/site/browsertest"
	"ladle/site/bundle"
)

// bench drives the real engine worker in headless Chromium and reports: the merge
// throughput in the browser (one worker, and split over several), the native `ladle
// merge` on the same files, the page's own file-read throughput (the same Blob reads,
// no compute), and the tab's peak memory while merging.
func bench(ctx context.Context, root string, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	total := fs.String("size", "1.2GB", "total size of the input checkpoints")
	models := fs.Int("models", 3, "number of input checkpoints (a linear soup of all)")
	parts := fs.Int("parts", 2, "also run the merge split over this many workers (0 or 1: skip)")
	dir := fs.String("dir", "", "folder for the generated inputs (default: a temporary folder, removed after)")
	storage := fs.String("storage", "memory", "where the browser keeps the result: memory (Blob parts), opfs or auto")
	runs := fs.Int("runs", 2, "runs of each measurement; the best is reported (the first also warms the wasm compiler up)")
	gpu := fs.Bool("gpu", true, "also run the merge and an evaluation on the CPU path and on WebGPU side by side (Chromium with --enable-unsafe-webgpu: SwiftShader where there is no GPU)")
	evalSamples := fs.Int("eval-samples", 2000, "images the CPU-versus-WebGPU evaluation runs on")
	evalOnly := fs.Bool("eval-only", false, "only the evaluation benchmarks (burn-mnist on MNIST, the soups lab's sweep)")
	noEval := fs.Bool("no-eval", false, "skip the evaluation benchmarks")
	sliced := fs.String("slices", "", "instead of the linear soup, a slices: recipe: passthrough (a frankenmerge of each model's share of the layers, a pure copy) or a method (every model's layers in two slices, merged by it)")
	fs.Parse(args)
	size, err := parseSize(*total)
	if err != nil {
		return err
	}
	log := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

	cache, err := bundle.DefaultCacheDir()
	if err != nil {
		return err
	}
	log("building the playground (cached by source hash)...")
	dist, err := bundle.Cached(ctx, bundle.Options{Root: root, Log: os.Stderr}, cache)
	if err != nil {
		return err
	}
	if *evalOnly {
		return benchEval(ctx, root, dist, *runs)
	}
	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "ladle-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	var paths []string
	for i := 0; i < *models; i++ {
		paths = append(paths, filepath.Join(work, string(rune('a'+i))+".safetensors"))
	}
	if _, err := os.Stat(paths[len(paths)-1]); err != nil {
		log("generating %d checkpoints of %s each in %s...", *models, human(size/int64(*models)), work)
		if paths, err = browsertest.WriteModels(work, *models, size/int64(*models)); err != nil {
			return err
		}
	}
	var inputBytes int64
	var recipe strings.Builder
	recipe.WriteString("merge_method: linear\nmodels:\n")
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		inputBytes += fi.Size()
		fmt.Fprintf(&recipe, "  - model: %s\n", filepath.Base(p))
	}
	if *sliced != "" {
		layers := 0
		for _, t := range browsertest.Layout(size/int64(*models), 1024) {
			if strings.HasSuffix(t.Name, ".weight") {
				layers++
			}
		}
		recipe.Reset()
		fmt.Fprintf(&recipe, "merge_method: %s\nslices:\n", *sliced)
		if *sliced == "passthrough" { // each model's share of the layers: reads one model's worth
			for i, p := range paths {
				from, to := layers*i/len(paths), layers*(i+1)/len(paths)
				fmt.Fprintf(&recipe, "  - sources:\n    - {model: %s, layer_range: [%d, %d]}\n", filepath.Base(p), from, to)
			}
			inputBytes /= int64(len(paths))
		} else {
			for _, r := range [][2]int{{0, layers / 2}, {layers / 2, layers}} {
				recipe.WriteString("  - sources:\n")
				for _, p := range paths {
					fmt.Fprintf(&recipe, "    - {model: %s, layer_range: [%d, %d]}\n", filepath.Base(p), r[0], r[1])
				}
			}
		}
	}
	recipePath := filepath.Join(work, "soup.yaml")
	if err := os.WriteFile(recipePath, []byte(recipe.String()), 0o644); err != nil {
		return err
	}

	// native: the merge of `ladle merge` (the same code, run in this process), all
	// cores and one thread (the browser's engine worker has one thread)
	nativeOut := filepath.Join(work, "native.safetensors")
	native := map[int]time.Duration{}
	warmCache(paths) // every run starts with the inputs in the page cache
	for _, threads := range []int{0, 1} {
		d, _, err := bestOf(*runs, func() (time.Duration, struct{}, error) {
			start := time.Now()
			err := nativeMerge(ctx, recipePath, nativeOut, threads)
			return time.Since(start), struct{}{}, err
		})
		if err != nil {
			return fmt.Errorf("native merge: %w", err)
		}
		native[threads] = d
	}
	nativeSum, err := fileSHA256(nativeOut)
	if err != nil {
		return err
	}

	// the browser
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
	if err := b.SetFiles("#files", paths); err != nil {
		return err
	}
	type result struct {
		Type    string  `json:"type"`
		Bytes   int64   `json:"bytes"`
		Seconds float64 `json:"seconds"`
		MaxWasm int64   `json:"maxWasm"`
		Error   *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	check := func(r result, err error, what string) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if r.Type == "error" || (r.Type != "done" && r.Type != "read") {
			msg := r.Type
			if r.Error != nil {
				msg = r.Error.Message
			}
			return fmt.Errorf("%s: %s", what, msg)
		}
		return nil
	}
	log("browser: reading the files through the engine worker (no compute)...")
	best := func(expr, what string) (result, error) {
		var out result
		for i := 0; i < max(*runs, 1); i++ {
			r, err := browsertest.Eval[result](b, expr)
			if err := check(r, err, what); err != nil {
				return r, err
			}
			if i == 0 || r.Seconds < out.Seconds {
				out = r
			}
			out.MaxWasm = max(out.MaxWasm, r.MaxWasm)
		}
		return out, nil
	}
	readMem := sampleMemory(b)
	read, err := best("ladleTest.read()", "read")
	readPeak := readMem.stop()
	if err != nil {
		return err
	}
	log("browser: merging in one engine worker...")
	mem := sampleMemory(b)
	merged, err := best(fmt.Sprintf("ladleTest.merge(%q, {storage: %q})", recipe.String(), *storage), "merge")
	peak := mem.stop()
	if err != nil {
		return err
	}
	sum, err := browsertest.Eval[string](b, "ladleTest.blobSHA256()")
	if err != nil {
		return err
	}
	var split result
	var splitSum string
	if *parts > 1 {
		log("browser: merging split over %d engine workers...", *parts)
		split, err = best(fmt.Sprintf("ladleTest.mergeSplit(%q, %d, {storage: %q})", recipe.String(), *parts, *storage), "split merge")
		if err != nil {
			return err
		}
		if splitSum, err = browsertest.Eval[string](b, "ladleTest.blobSHA256()"); err != nil {
			return err
		}
	}
	chromedp.Call(b.Ctx, performance.Enable, performance.EnableParams{})
	metrics, _ := chromedp.Call(b.Ctx, performance.GetMetrics, cdp.Empty{})
	var jsHeap float64
	for _, m := range metrics.Metrics {
		if m.Name == "JSHeapUsedSize" {
			jsHeap = m.Value
		}
	}
	hw, _ := browsertest.Eval[int](b, "navigator.hardwareConcurrency")

	gbps := func(bytes int64, d time.Duration) string {
		return fmt.Sprintf("%7.3f GB/s", float64(bytes)/1e9/d.Seconds())
	}
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	what := "linear soup"
	if *sliced != "" {
		what = *sliced + " over slices:"
	}
	fmt.Printf("\nLadle benchmark: %s of %d generated checkpoints, %s of input read (%d cores, Chromium hardwareConcurrency %d)\n\n",
		what, len(paths), human(inputBytes), hwCores(), hw)
	fmt.Printf("  %-46s %9s  %s\n", "what", "time", "input throughput")
	fmt.Printf("  %-46s %8.2fs  %s\n", "native merge, as ladle merge (all cores)", native[0].Seconds(), gbps(inputBytes, native[0]))
	fmt.Printf("  %-46s %8.2fs  %s\n", "native merge, as ladle merge --threads 1", native[1].Seconds(), gbps(inputBytes, native[1]))
	fmt.Printf("  %-46s %8.2fs  %s\n", "browser: engine worker reads the Blobs only", read.Seconds, gbps(read.Bytes, secs(read.Seconds)))
	fmt.Printf("  %-46s %8.2fs  %s\n", "browser: merge in 1 engine worker", merged.Seconds, gbps(inputBytes, secs(merged.Seconds)))
	if *parts > 1 {
		fmt.Printf("  %-46s %8.2fs  %s\n", fmt.Sprintf("browser: merge split over %d workers", *parts), split.Seconds, gbps(inputBytes, secs(split.Seconds)))
	}
	fmt.Printf("\n  output: %s; identical to native: 1 worker %v", human(merged.Bytes), sum == nativeSum)
	if *parts > 1 {
		fmt.Printf(", %d workers %v", *parts, splitSum == nativeSum)
	}
	fmt.Printf("\n  (best of %d runs each; the browser's times are measured inside the worker or the page)\n", max(*runs, 1))
	fmt.Printf("\n  memory while merging in 1 worker (input %s, result kept in %s):\n", human(inputBytes), *storage)
	fmt.Printf("    engine wasm memory (peak, from the worker)    %s\n", human(merged.MaxWasm))
	fmt.Printf("    tab renderer process RSS (peak)               %s (%s while only reading)\n", human(peak.renderer), human(readPeak.renderer))
	fmt.Printf("    tab renderer private memory, RssAnon (peak)   %s (%s while only reading)\n", human(peak.rendererAnon), human(readPeak.rendererAnon))
	fmt.Printf("    browser process RSS (peak; holds Blob data)   %s\n", human(peak.browser))
	fmt.Printf("    all Chromium processes RSS (peak)             %s\n", human(peak.total))
	fmt.Printf("    page JS heap after the runs                   %s\n", human(int64(jsHeap)))
	if peak.err != nil {
		fmt.Printf("    (process memory: %v)\n", peak.err)
	}
	if sum != nativeSum || (*parts > 1 && splitSum != nativeSum) {
		return fmt.Errorf("the browser's output differs from the native one")
	}
	if *gpu {
		b.Close()
		if err := benchGPU(srv, work, paths, recipe.String(), inputBytes, *runs, *evalSamples); err != nil {
			return err
		}
	}
	if *noEval {
		return nil
	}
	return benchEval(ctx, root, dist, *runs)
}

type memPeak struct {
	renderer, rendererAnon, browser, total int64
	err                                    error
}

type memSampler struct {
	stopCh chan struct{}
	wg     sync.WaitGroup
	peak   memPeak
}

// sampleMemory samples the browser's processes every 100 ms until stop.
func sampleMemory(b *browsertest.Browser) *memSampler {
	s := &memSampler{stopCh: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			procs, err := b.Processes()
			if err != nil {
				s.peak.err = err
				return
			}
			var renderer, anon, browser, total int64
			for _, p := range procs {
				total += p.RSS
				switch p.Type {
				case "renderer":
					renderer = max(renderer, p.RSS) // the tab's renderer (the largest)
					anon = max(anon, p.Anon)
				case "browser":
					browser += p.RSS
				}
			}
			s.peak.renderer = max(s.peak.renderer, renderer)
			s.peak.rendererAnon = max(s.peak.rendererAnon, anon)
			s.peak.browser = max(s.peak.browser, browser)
			s.peak.total = max(s.peak.total, total)
			select {
			case <-s.stopCh:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *memSampler) stop() memPeak {
	close(s.stopCh)
	s.wg.Wait()
	return s.peak
}

// warmCache reads the inputs once, so that every run starts with them in the page cache.
// bestOf runs f runs times (at least once) and returns the shortest time with the
// value that run gave, or the first error.
func bestOf[T any](runs int, f func() (time.Duration, T, error)) (time.Duration, T, error) {
	var best time.Duration
	var val T
	for i := range max(runs, 1) {
		d, v, err := f()
		if err != nil {
			return 0, v, err
		}
		if i == 0 || d < best {
			best, val = d, v
		}
	}
	return best, val, nil
}

func warmCache(paths []string) {
	buf := make([]byte, 4<<20)
	for _, p := range paths {
		if f, err := os.Open(p); err == nil {
			for {
				if _, err := f.Read(buf); err != nil {
					break
				}
			}
			f.Close()
		}
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0
	for _, x := range []struct {
		suffix string
		m      float64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"GB", 1e9}, {"MB", 1e6}, {"G", 1e9}, {"M", 1e6}} {
		if strings.HasSuffix(u, x.suffix) {
			u, mult = strings.TrimSuffix(u, x.suffix), x.m
			break
		}
	}
	var f float64
	if _, err := fmt.Sscanf(u, "%g", &f); err != nil || f <= 0 {
		return 0, fmt.Errorf("--size %q: want a size such as 1.2GB or 300MB", s)
	}
	return int64(f * mult), nil
}

func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%d B", n)
}

func hwCores() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

// nativeMerge merges as `ladle merge RECIPE -o OUT --threads N` does: the recipe's
// folder resolves the models, the output goes through a 4 MiB buffer into a file that
// takes its name when complete.
func nativeMerge(ctx context.Context, recipePath, out string, threads int) error {
	data, err := os.ReadFile(recipePath)
	if err != nil {
		return err
	}
	r, err := recipe.Parse(data, recipePath, filepath.Dir(recipePath))
	if err != nil {
		return err
	}
	p, err := plan.Prepare(r, plan.FileOpener(r.Dir))
	if err != nil {
		return err
	}
	defer p.Close()
	opts := plan.Options{Threads: threads}
	return safetensors.WriteFile(out, p.OutputTensors(), p.Metadata(opts), func(w *safetensors.Writer) error { return p.Execute(ctx, w, opts) })
}
