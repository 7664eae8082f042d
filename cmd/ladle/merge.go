package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/plan"
	"ladle/core/recipe"
)

func init() {
	register(&command{
		name:    "merge",
		args:    "RECIPE.yaml -o OUT.safetensors [--seed N] [--threads N] [--shard-size SIZE] [--quiet]",
		summary: "merge checkpoints as a mergekit-style recipe says (linear, ties, dare_ties, ...)",
		run:     runMerge,
	})
}

func runMerge(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("o", "", "output safetensors file (a folder with --shard-size)")
	seed := fs.String("seed", "", "seed of the random methods (overrides the recipe's ladle.seed)")
	threads := fs.Int("threads", 0, "threads to use (0: one per core); the output does not depend on it")
	shard := fs.String("shard-size", "", "write a sharded checkpoint into the folder -o, shards at most this big (e.g. 2GB, 500MB)")
	quiet := fs.Bool("quiet", false, "print no progress")
	positional, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef("want one recipe file, got %d", len(positional))
	}
	if *out == "" {
		return usagef("no output: give -o OUT.safetensors")
	}
	opts := plan.Options{Threads: *threads}
	if *seed != "" {
		if opts.Seed, err = strconv.ParseUint(*seed, 10, 64); err != nil {
			return usagef("--seed must be a whole number from 0 to 2^64-1, not %q", *seed)
		}
		opts.SeedSet = true
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	var shardBytes int64
	if *shard != "" {
		if shardBytes, err = parseSize(*shard); err != nil {
			return usagef("--shard-size: %v", err)
		}
	}
	recipePath := positional[0]
	data, err := ckpt.ReadInputFile(recipePath)
	if err != nil {
		return err
	}
	r, err := recipe.Parse(data, recipePath, filepath.Dir(recipePath))
	if err != nil {
		return err
	}
	for _, k := range r.Ignored {
		fmt.Fprintf(ctx.stderr, "note: %s: %s does not apply to a tensor merge and is ignored\n", recipePath, k)
	}
	rec := &inputRecorder{dir: r.Dir}
	p, err := plan.PrepareWith(r, rec.opener(), rec.read)
	if err != nil {
		return fmt.Errorf("%s: %w", recipePath, err)
	}
	defer p.Close()

	// Signals end the process (see cleanUpOnSignals), removing what this run wrote.
	runCtx := context.Background()
	// Whole-model steps (alignment, greedy soup selection) run before the metadata is
	// written, so that it records them.
	if err := p.Preprocess(runCtx, opts); err != nil {
		return fmt.Errorf("%s: %w", recipePath, err)
	}
	reportWholeModelSteps(ctx.stdout, p, r)
	for v := 0; v < p.Outputs(); v++ {
		dest := outputPath(*out, p.OutputLabel(v))
		if err := refuseInputAsOutput(dest, append(rec.inputs(), recipePath)...); err != nil {
			return err
		}
		opts.Output = v
		start := time.Now()
		bar := newProgressBar(ctx.stderr, *quiet, dest)
		opts.Progress = func(pr plan.Progress) {
			bar.update(pr)
			testPause(pr.Tensor)
		}
		if err := writeMerge(runCtx, p, dest, shardBytes, opts); err != nil {
			bar.abandon()
			return err
		}
		bar.finish()
		elapsed := time.Since(start)
		gb := float64(p.BytesTotal()) / 1e9
		fmt.Fprintf(ctx.stdout, "wrote %s: %d tensors, %s of input in %.2fs (%.2f GB/s)\n", dest, len(p.OutputTensors()), ckpt.FormatBytes(p.BytesTotal()), elapsed.Seconds(), gb/max(elapsed.Seconds(), 1e-9))
		if sig, full, ok := p.SignatureSize(); ok {
			fmt.Fprintf(ctx.stdout, "signature: %s against %s for the full checkpoint (%.1fx smaller)\n", ckpt.FormatBytes(sig), ckpt.FormatBytes(full), float64(full)/float64(max(sig, 1)))
		}
	}
	return nil
}

// writeMerge runs one output of the plan into a file, or a sharded folder, that
// appears only when complete.
func writeMerge(ctx context.Context, p *plan.Plan, dest string, shardBytes int64, opts plan.Options) error {
	tensors, md := p.OutputTensors(), p.Metadata(opts)
	if shardBytes > 0 {
		sw, err := safetensors.NewShardedWriter(dest, "model", tensors, md, shardBytes)
		if err != nil {
			return err
		}
		if err := p.Execute(ctx, sw, opts); err != nil {
			sw.Abort()
			return err
		}
		return sw.Close()
	}
	return safetensors.WriteFile(dest, tensors, md, func(w *safetensors.Writer) error { return p.Execute(ctx, w, opts) })
}

// checkThreads refuses a --threads below 0 or beyond plan.MaxThreads.
func checkThreads(n int) error {
	if n < 0 || n > plan.MaxThreads {
		return usagef("--threads must be from 0 (one per core) to %d, not %d", plan.MaxThreads, n)
	}
	return nil
}

// outputPath inserts a label before the extension: out.safetensors, alpha-0.3 →
// out.alpha-0.3.safetensors.
func outputPath(out, label string) string {
	if label == "" {
		return out
	}
	ext := filepath.Ext(out)
	return strings.TrimSuffix(out, ext) + "." + label + ext
}

// parseSize reads sizes such as 2GB, 500MB, 1.5GiB or 1000000 (bytes).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0
	for _, unit := range units {
		if strings.HasSuffix(u, unit.suffix) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, unit.suffix)), unit.mult
			break
		}
	}
	f, err := strconv.ParseFloat(u, 64)
	if err != nil || f <= 0 || f*mult > 1<<62 {
		return 0, fmt.Errorf("%q is not a size such as 2GB, 500MB or 1.5GiB", s)
	}
	return int64(f * mult), nil
}

// progressBar draws a bar on a terminal, or prints a plain line at every tenth of the
// work when the output is a file or a pipe.
type progressBar struct {
	w        io.Writer
	tty      bool
	quiet    bool
	dest     string
	start    time.Time
	lastDraw time.Time
	lastTick int
	drawn    bool
}

func newProgressBar(w io.Writer, quiet bool, dest string) *progressBar {
	return &progressBar{w: w, tty: isTerminal(w), quiet: quiet, dest: dest, start: time.Now(), lastTick: -1}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (b *progressBar) update(pr plan.Progress) {
	if b.quiet {
		return
	}
	frac := 1.0
	if pr.BytesTotal > 0 {
		frac = float64(pr.BytesDone) / float64(pr.BytesTotal)
	} else if pr.TensorsTotal > 0 {
		frac = float64(pr.TensorsDone) / float64(pr.TensorsTotal)
	}
	elapsed := time.Since(b.start).Seconds()
	rate := float64(pr.BytesDone) / 1e9 / max(elapsed, 1e-9)
	if b.tty {
		if time.Since(b.lastDraw) < 100*time.Millisecond && pr.TensorsDone < pr.TensorsTotal {
			return
		}
		b.lastDraw = time.Now()
		const width = 30
		filled := int(frac * width)
		fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d/%d tensors  %s/%s  %.2f GB/s  %.1fs ",
			strings.Repeat("#", filled), strings.Repeat(" ", width-filled), 100*frac, pr.TensorsDone, pr.TensorsTotal,
			ckpt.FormatBytes(pr.BytesDone), ckpt.FormatBytes(pr.BytesTotal), rate, elapsed)
		b.drawn = true
		return
	}
	if tick := int(frac * 10); tick > b.lastTick {
		b.lastTick = tick
		fmt.Fprintf(b.w, "merging %s: %3.0f%%, %d/%d tensors, %s of %s read, %.1fs\n", b.dest, 100*frac, pr.TensorsDone, pr.TensorsTotal,
			ckpt.FormatBytes(pr.BytesDone), ckpt.FormatBytes(pr.BytesTotal), elapsed)
	}
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

func (b *progressBar) abandon() { b.finish() }

// reportWholeModelSteps prints what the alignment and greedy soup steps found.
func reportWholeModelSteps(w io.Writer, p *plan.Plan, r *recipe.Recipe) {
	for _, a := range p.AlignReports() {
		fmt.Fprintf(w, "aligned %s to %s:\n", a.Model, p.AlignReference())
		printAlignReport(w, a.Report, "  ")
	}
	g := p.GreedyResult()
	if g == nil {
		return
	}
	rule := "≥"
	if v, ok := r.Param("strict", -1, "", 0); ok && v == true {
		rule = "> (strict)"
	}
	where := r.Ladle.Eval.Data
	if r.Ladle.Eval.Split != "" {
		where += ", split " + r.Ladle.Eval.Split
	}
	fmt.Fprintf(w, "greedy soup on %s (keep a model when the candidate's accuracy is %s the soup's):\n", where, rule)
	// Columns line up however many steps and however long the names.
	numW, nameW := len(strconv.Itoa(len(g.Steps))), 30
	for _, s := range g.Steps {
		nameW = max(nameW, len(s.Model))
	}
	for i, s := range g.Steps {
		verdict := "not kept"
		if s.Kept {
			verdict = "kept"
		}
		what := "soup + model"
		if i == 0 {
			what, verdict = "best model", "start"
		}
		fmt.Fprintf(w, "  %*d. %-*s %-12s accuracy %.4f  %s\n", numW, i+1, nameW, s.Model, what, s.Accuracy, verdict)
	}
	fmt.Fprintf(w, "ingredients (%d): %s; soup accuracy %.4f\n", len(g.Ingredients), strings.Join(g.Ingredients, ", "), g.Accuracy)
}
