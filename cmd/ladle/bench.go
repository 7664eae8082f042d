package main

import (
	"bufio"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

//go:embed bench_numpy.py
var numpyBench string

func init() {
	register(&command{
		name:    "bench",
		args:    "[--size 256MB] [--models 4] [--tensor 32MB] [--methods linear,ties,...] [--lora 16] [--numpy] [--runs 5] [--dir DIR]",
		summary: "generate checkpoints and measure each method's throughput (GB/s of input read) and peak memory",
		run:     runBench,
	})
}

// benchMethods are the methods `ladle bench` times by default, with the parameters
// that make them do their full work.
var benchMethods = map[string]string{
	"linear":           "",
	"task_arithmetic":  "",
	"ties":             "parameters: {density: 0.2}\n",
	"dare_ties":        "parameters: {density: 0.2}\n",
	"breadcrumbs_ties": "parameters: {density: 0.2}\n",
	"della":            "parameters: {density: 0.5}\n",
	"model_stock":      "",
	"pcb":              "parameters: {density: 0.2}\n",
	"tsv_merge":        "",
	"iso_c":            "",
	"iso_cts":          "",
}

// svdMethods decompose whole 2-D tensors in float64: their working memory is a few
// float64 copies of the largest tensor per model, beyond the streaming bound.
var svdMethods = map[string]bool{"tsv_merge": true, "iso_c": true, "iso_cts": true}

func runBench(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	sizeFlag := fs.String("size", "256MB", "size of each generated checkpoint")
	models := fs.Int("models", 4, "number of models merged (a base is generated besides)")
	tensorFlag := fs.String("tensor", "32MB", "size of each tensor (the largest tensor bounds memory)")
	methods := fs.String("methods", "linear,ties,dare_ties,task_arithmetic,model_stock", "methods to time")
	withNumpy := fs.Bool("numpy", false, "also time the same linear and ties merges in numpy over memory-mapped inputs (needs python3 with numpy)")
	dir := fs.String("dir", "", "folder for the generated checkpoints (default: a temporary folder, removed afterwards)")
	threads := fs.Int("threads", 0, "threads for ladle merge (0: one per core)")
	rows := fs.Int("rows", 1024, "rows of each 2-D tensor (the SVD methods decompose rows × (tensor/rows) matrices)")
	runs := fs.Int("runs", 5, "times to run each merge (and numpy's, alternating); the medians are printed")
	loraRank := fs.Int("lora", 16, "also time task arithmetic over the base with a LoRA adapter of this rank per model (0: skip)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		return usagef("--size: %v", err)
	}
	tensorSize, err := parseSize(*tensorFlag)
	if err != nil {
		return usagef("--tensor: %v", err)
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	if *runs < 1 || *runs > 100 {
		return usagef("--runs must be from 1 to 100")
	}
	if *models < 2 {
		return usagef("--models must be at least 2")
	}
	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "ladle-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
		onSignal(func() { os.RemoveAll(work) }) // gigabytes of generated checkpoints
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(ctx.stdout, "generating a base and %d models of %s each (F32, tensors of %s) in %s\n", *models, ckpt.FormatBytes(size), ckpt.FormatBytes(tensorSize), work)
	names := []string{"base.safetensors"}
	for i := 0; i < *models; i++ {
		names = append(names, fmt.Sprintf("model%d.safetensors", i))
	}
	var largest int64
	for i, n := range names {
		l, err := generateCheckpoint(filepath.Join(work, n), size, tensorSize, int64(*rows), uint64(i))
		if err != nil {
			return err
		}
		largest = l
	}
	bw := memcpyBandwidth()
	fmt.Fprintf(ctx.stdout, "memcpy on this machine: %.1f GB/s (bytes read + bytes written, one thread); times are medians of %d runs\n", bw/1e9, *runs)
	fmt.Fprintf(ctx.stdout, "%-18s %10s %10s %12s %14s   %s\n", "method", "input", "seconds", "GB/s", "peak RSS", "bound 3x(inputs+1)xlargest+100MB")
	for _, m := range strings.Split(*methods, ",") {
		m = strings.TrimSpace(m)
		params, ok := benchMethods[m]
		if !ok {
			return usagef("--methods: %q is not one of the benchmarked methods (%s)", m, strings.Join(sortedNames(benchMethods), ", "))
		}
		inputs := *models
		base := ""
		if m != "linear" {
			base = "base_model: base.safetensors\n"
			inputs++
		}
		recipePath := filepath.Join(work, m+".yaml")
		list := strings.Join(names[1:], ", ")
		if err := os.WriteFile(recipePath, []byte("merge_method: "+m+"\n"+base+"models: ["+list+"]\n"+params), 0o644); err != nil {
			return err
		}
		out := filepath.Join(work, m+".out.safetensors")
		numpy := *withNumpy && (m == "linear" || m == "ties")
		var ladleRuns, numpyRuns, ladleCPU, numpyCPU []float64
		var rss int64
		var np numpyResult
		// Alternate the two, so that both see the same share of the machine's noise.
		for range *runs {
			secs, cpu, r, err := timeProcessCPU(exec.Command(self, "merge", recipePath, "-o", out, "--quiet", "--threads", fmt.Sprint(*threads)))
			if err != nil {
				return fmt.Errorf("%s: %w", m, err)
			}
			os.Remove(out)
			ladleRuns, ladleCPU, rss = append(ladleRuns, secs), append(ladleCPU, cpu), max(rss, r)
			if numpy {
				if np, err = benchNumpy(work, m, names); err != nil {
					return err
				}
				numpyRuns, numpyCPU = append(numpyRuns, np.wall), append(numpyCPU, np.cpu)
			}
		}
		secs := median(ladleRuns)
		read := int64(inputs) * size
		bound := 3*int64(inputs+1)*largest + 100e6
		verdict := "within"
		if svdMethods[m] {
			// float64 working copies: the inputs' task vectors, the factors and the
			// concatenated singular vectors, about 2·(inputs + 3) copies at 8 bytes.
			bound += 2 * int64(inputs+3) * 2 * largest
			verdict = "within SVD bound"
		}
		if rss > bound {
			verdict = "OVER"
		}
		fmt.Fprintf(ctx.stdout, "%-18s %10s %10.2f %12.2f %14s   %s %s\n", "ladle "+m, ckpt.FormatBytes(read), secs, float64(read)/1e9/secs, ckpt.FormatBytes(rss), verdict, ckpt.FormatBytes(bound))
		// Memory traffic: every input byte read once and the merged checkpoint written once.
		traffic := float64(read+size) / secs
		fmt.Fprintf(ctx.stdout, "%-18s %s read + %s written in %.2f s: %.1f GB/s, %.0f%% of memcpy's %.1f GB/s\n", "", ckpt.FormatBytes(read), ckpt.FormatBytes(size), secs, traffic/1e9, 100*traffic/bw, bw/1e9)
		if numpy {
			nsecs := median(numpyRuns)
			fmt.Fprintf(ctx.stdout, "%-18s %10s %10.2f %12.2f %14s   ladle is %.2fx as fast (numpy's merge loop alone: %.2f s)\n", "numpy "+m, ckpt.FormatBytes(np.BytesRead), nsecs,
				float64(np.BytesRead)/1e9/nsecs, ckpt.FormatBytes(np.rss), nsecs/secs, np.Seconds)
			lc, nc := median(ladleCPU), median(numpyCPU)
			fmt.Fprintf(ctx.stdout, "%-18s CPU time (user + system), medians: ladle %.2f s, numpy %.2f s (%.2fx less for ladle)\n", "", lc, nc, nc/lc)
		}
	}
	if *loraRank > 0 {
		return benchLoRA(ctx, work, *models, *loraRank, *threads, *runs, size, tensorSize)
	}
	return nil
}

// median of a non-empty list.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// memcpyBandwidth measures copying 64 MiB buffers on one thread, counting the bytes
// read and the bytes written (the best of ten copies), the yardstick of a merge that
// streams its inputs once and writes its output once.
func memcpyBandwidth() float64 {
	const n = 64 << 20
	src, dst := make([]byte, n), make([]byte, n)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in
	best := math.Inf(1)
	for range 10 {
		start := time.Now()
		copy(dst, src)
		best = min(best, time.Since(start).Seconds())
	}
	return 2 * n / best
}

func sortedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type numpyResult struct {
	Seconds   float64 `json:"seconds"`
	BytesRead int64   `json:"bytes_read"`
	MaxRSS    int64   `json:"max_rss"`
	wall      float64 // the whole process, as ladle merge is timed
	cpu       float64
	rss       int64
}

// benchNumpy runs the same merge in numpy once.
func benchNumpy(work, method string, names []string) (numpyResult, error) {
	var res numpyResult
	script := filepath.Join(work, "bench_numpy.py")
	if err := os.WriteFile(script, []byte(numpyBench), 0o644); err != nil {
		return res, err
	}
	python := "python3"
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		python = "/usr/bin/python3" // Debian's, where python3-numpy installs
	}
	args := []string{script, method, "0.2", filepath.Join(work, "numpy.out")}
	for _, n := range names {
		args = append(args, filepath.Join(work, n))
	}
	cmd := exec.Command(python, args...)
	// Unset OpenBLAS tuning that slows numpy on some processors (see the README).
	cmd.Env = append(filterEnv(os.Environ(), "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"), "OMP_NUM_THREADS=2")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	// Timed as a whole process, like ladle merge: interpreter start, imports and all.
	secs, cpu, rss, err := timeProcessCPU(cmd)
	if err != nil {
		return res, fmt.Errorf("numpy %s: %w (is python3-numpy installed?)", method, err)
	}
	defer os.Remove(filepath.Join(work, "numpy.out"))
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		return res, fmt.Errorf("numpy %s: %v in %q", method, err, stdout.String())
	}
	res.wall, res.cpu, res.rss = secs, cpu, max(rss, res.MaxRSS)
	return res, nil
}

func filterEnv(env []string, drop ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, d := range drop {
			if strings.HasPrefix(kv, d+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// timeProcess runs cmd and returns its wall time and peak resident memory.
func timeProcess(cmd *exec.Cmd) (secs float64, maxRSS int64, err error) {
	secs, _, maxRSS, err = timeProcessCPU(cmd)
	return secs, maxRSS, err
}

// timeProcessCPU is timeProcess that also returns the CPU time (user + system) the
// process used, which a loaded machine disturbs less than the wall time.
func timeProcessCPU(cmd *exec.Cmd) (secs, cpu float64, maxRSS int64, err error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, 0, fmt.Errorf("%v: %s", err, stderr.String())
	}
	secs = time.Since(start).Seconds()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return secs, cpu, maxRSS, nil
}

// generateCheckpoint writes a checkpoint of about size bytes of F32 tensors of
// tensorSize bytes, values like trained weights, and returns the largest tensor's size.
func generateCheckpoint(path string, size, tensorSize, rowsWanted int64, seed uint64) (int64, error) {
	if tensorSize > size {
		tensorSize = size
	}
	var infos []ckpt.Info
	var largest int64
	for left, i := size, 0; left >= 4; i++ {
		n := min(left, tensorSize) / 4
		rows := max(rowsWanted, 1)
		if n >= rows {
			n -= n % rows // whole rows: the SVD methods then see rows × (n/rows) matrices
		} else {
			rows = 1
		}
		infos = append(infos, ckpt.Info{Name: fmt.Sprintf("layers.%d.weight", i), DType: dtype.F32, Shape: []int64{rows, n / rows}})
		largest = max(largest, n*4)
		left -= n * 4
	}
	f, err := ckpt.CreateAtomic(path)
	if err != nil {
		return 0, err
	}
	defer f.Abort()
	buf := bufio.NewWriterSize(f, 4<<20)
	w, err := safetensors.NewWriter(buf, infos, map[string]string{"format": "pt"})
	if err != nil {
		return 0, err
	}
	base := rand.New(rand.NewPCG(1, 1))
	own := rand.New(rand.NewPCG(seed+2, seed))
	chunk := make([]byte, 1<<20)
	for _, info := range infos {
		if err := w.BeginTensor(info.Name); err != nil {
			return 0, err
		}
		for left := info.Bytes(); left > 0; {
			m := min(left, int64(len(chunk)))
			for i := int64(0); i < m; i += 4 {
				// A shared "pre-trained" value plus this model's fine-tuning delta.
				v := float32(base.NormFloat64()*0.02 + own.NormFloat64()*0.002)
				if seed == 0 {
					v = float32(base.NormFloat64() * 0.02)
					own.Uint64()
				}
				binary.LittleEndian.PutUint32(chunk[i:], math.Float32bits(v))
			}
			if _, err := w.Write(chunk[:m]); err != nil {
				return 0, err
			}
			left -= m
		}
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	if err := buf.Flush(); err != nil {
		return 0, err
	}
	if err := f.Commit(); err != nil {
		return 0, errors.Join(err)
	}
	return largest, nil
}
