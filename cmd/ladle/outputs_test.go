//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// writeF32Model writes a safetensors file of n float32 tensors of elems elements each.
func writeF32Model(t *testing.T, path string, n, elems int, seed float32) {
	t.Helper()
	var infos []ckpt.Info
	var data [][]byte
	for i := range n {
		infos = append(infos, ckpt.Info{Name: fmt.Sprintf("layers.%d.weight", i), DType: dtype.F32, Shape: []int64{int64(elems)}})
		b := make([]byte, 4*elems)
		for e := range elems {
			binary.LittleEndian.PutUint32(b[4*e:], math.Float32bits(seed+float32(e%97)/97))
		}
		data = append(data, b)
	}
	writeSafetensors(t, path, infos, data)
}

// partialsIn lists the .partial files under dir (recursively).
func partialsIn(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".partial") {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// startPaused starts a child ladle that pauses after each tensor and waits until it
// has written its first one, so the output is half written. It returns the command
// and the rest of its stderr.
func startPaused(t *testing.T, pause string, args ...string) (*exec.Cmd, *strings.Builder, <-chan struct{}) {
	t.Helper()
	cmd := ladleProcess(t, []string{testPauseEnv + "=" + pause}, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	first := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		announced := false
		for sc.Scan() {
			rest.WriteString(sc.Text() + "\n")
			if !announced && strings.HasPrefix(sc.Text(), "ladle-test: done ") {
				announced = true
				close(first)
			}
		}
		if !announced {
			close(first)
		}
	}()
	select {
	case <-first:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child never finished a tensor")
	}
	return cmd, &rest, drained
}

// exitCode waits for cmd and returns its exit status (128 + n for a death by signal n).
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		t.Fatal(err)
		return -1
	}
}

// SIGINT, SIGTERM and SIGHUP in the middle of convert, merge and a sharded merge
// end the process with 128 + the signal's number and leave no partial file, no
// output and no output folder behind.
func TestSignalsLeaveNoPartialOutput(t *testing.T) {
	dir := t.TempDir()
	writeF32Model(t, filepath.Join(dir, "a.safetensors"), 6, 1<<16, 1)
	writeF32Model(t, filepath.Join(dir, "b.safetensors"), 6, 1<<16, 2)
	recipe := filepath.Join(dir, "soup.yaml")
	if err := os.WriteFile(recipe, []byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		for _, c := range []struct {
			name string
			args func(out string) []string
		}{
			{"convert", func(out string) []string { return []string{"convert", filepath.Join(dir, "a.safetensors"), "-o", out} }},
			{"merge", func(out string) []string { return []string{"merge", recipe, "-o", out, "--quiet"} }},
			{"merge --shard-size", func(out string) []string {
				return []string{"merge", recipe, "-o", out, "--quiet", "--shard-size", "300KB"}
			}},
		} {
			t.Run(c.name+" "+sig.String(), func(t *testing.T) {
				outDir := t.TempDir()
				out := filepath.Join(outDir, "out.safetensors")
				if strings.Contains(c.name, "shard") {
					out = filepath.Join(outDir, "sharded", "model")
				}
				cmd, stderr, drained := startPaused(t, "20s", c.args(out)...)
				// The tensor may still be on its way to the file (written behind the merge).
				for start := time.Now(); len(partialsIn(t, outDir)) == 0 && time.Since(start) < 10*time.Second; {
					time.Sleep(10 * time.Millisecond)
				}
				if len(partialsIn(t, outDir)) == 0 {
					cmd.Process.Kill()
					t.Fatal("no partial file while the output is half written")
				}
				cmd.Process.Signal(sig)
				<-drained // all of stderr, before Wait closes the pipe
				code := exitCode(t, cmd)
				if code != 128+int(sig) {
					t.Errorf("exit status %d, want %d; stderr:\n%s", code, 128+int(sig), stderr)
				}
				if p := partialsIn(t, outDir); len(p) > 0 {
					t.Errorf("partial files left: %v", p)
				}
				entries, _ := os.ReadDir(outDir)
				if len(entries) > 0 {
					t.Errorf("the output folder holds %v after the interrupted run; want nothing", entries)
				}
				if !strings.Contains(stderr.String(), "removed the unfinished output") {
					t.Errorf("stderr does not say what was removed:\n%s", stderr)
				}
			})
		}
	}
}

// A partial file that a killed run left (SIGKILL cannot be caught) is removed, with a
// note, by the next run writing the same output; the partial file of a run still
// writing (locked) is left alone.
func TestStalePartialsAreRemovedByTheNextRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "a.safetensors")
	writeF32Model(t, in, 4, 1<<14, 1)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "out.safetensors")
	cmd, _, drained := startPaused(t, "20s", "convert", in, "-o", out)
	cmd.Process.Kill()
	<-drained
	exitCode(t, cmd)
	stale := partialsIn(t, outDir)
	if len(stale) != 1 {
		t.Fatalf("after kill -9: partial files %v, want one", stale)
	}
	// A run still in progress holds its partial file locked.
	live, err := ckpt.CreatePartial(outDir, ".out.safetensors.*.partial")
	if err != nil {
		t.Fatal(err)
	}
	defer ckpt.RemovePartial(live.Name())
	defer live.Close()
	// Partial files of other outputs are not this run's business.
	other := filepath.Join(outDir, ".other.safetensors.123.partial")
	os.WriteFile(other, []byte("x"), 0o644)

	res := ladleProcess(t, nil, "convert", in, "-o", out)
	msg, err := res.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	if _, err := os.Stat(stale[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale partial %s is still there", stale[0])
	}
	if !strings.Contains(string(msg), "removed "+stale[0]) {
		t.Errorf("no note of the removal in:\n%s", msg)
	}
	for _, keep := range []string{live.Name(), other, out} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
}

// -o naming a FIFO, a device, a symbolic link or a folder is refused, and the thing it
// names is left as it was; with --shard-size, -o must be a folder (not a link to one).
func TestOutputMustBeARegularFile(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "a.safetensors")
	writeF32Model(t, in, 2, 16, 1)
	recipe := filepath.Join(dir, "soup.yaml")
	os.WriteFile(recipe, []byte("merge_method: linear\nmodels: [a.safetensors, a.safetensors]\n"), 0o644)
	target := filepath.Join(dir, "target.safetensors")
	os.WriteFile(target, []byte("precious"), 0o644)

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.safetensors")
	os.Symlink(target, link)
	sub := filepath.Join(dir, "folder")
	os.Mkdir(sub, 0o755)
	linkedDir := filepath.Join(dir, "linked-folder")
	os.Symlink(sub, linkedDir)
	cases := map[string]string{fifo: "named pipe", link: "symbolic link", sub: "folder"}
	device := filepath.Join(dir, "null")
	if err := syscall.Mknod(device, syscall.S_IFCHR|0o666, 1<<8|3); err == nil { // like /dev/null (needs root)
		cases[device] = "character device"
	}
	for path, kind := range cases {
		before, _ := os.Lstat(path)
		for _, args := range [][]string{{"convert", in, "-o", path}, {"merge", recipe, "-o", path, "--quiet"}} {
			var stdout, stderr strings.Builder
			if code := run(args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), kind) || !strings.Contains(stderr.String(), "not a regular file") {
				t.Errorf("%v: exit %d, stderr %q; want a refusal naming a %s", args, code, stderr.String(), kind)
			}
			after, err := os.Lstat(path)
			if err != nil || after.Mode() != before.Mode() {
				t.Errorf("%v replaced %s (%v, now %v)", args, path, before.Mode(), after)
			}
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("the symbolic link's target changed: %q", b)
	}
	for _, path := range []string{target, linkedDir, fifo} {
		var stdout, stderr strings.Builder
		if code := run([]string{"merge", recipe, "-o", path, "--quiet", "--shard-size", "1KB"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not a folder") {
			t.Errorf("--shard-size -o %s: exit %d, stderr %q; want a refusal", path, code, stderr.String())
		}
	}
	if p := partialsIn(t, dir); len(p) > 0 {
		t.Errorf("partial files left: %v", p)
	}
}

// A FIFO given as a checkpoint, a shard, a recipe or a dataset is refused at once
// with a message naming it (reading it would block until some program writes it).
func TestFIFOInputsAreRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// A sharded checkpoint whose shard is a FIFO.
	sharded := filepath.Join(dir, "sharded")
	os.Mkdir(sharded, 0o755)
	index := `{"metadata": {}, "weight_map": {"w": "model-00001-of-00001.safetensors"}}`
	os.WriteFile(filepath.Join(sharded, "model.safetensors.index.json"), []byte(index), 0o644)
	if err := syscall.Mkfifo(filepath.Join(sharded, "model-00001-of-00001.safetensors"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeF32Model(t, filepath.Join(dir, "a.safetensors"), 1, 4, 1)
	soup := filepath.Join(dir, "soup.yaml")
	os.WriteFile(soup, []byte("merge_method: linear\nmodels: [a.safetensors, pipe.safetensors]\n"), 0o644)
	recipeFIFO := filepath.Join(dir, "recipe.yaml")
	syscall.Mkfifo(recipeFIFO, 0o644)
	for _, args := range [][]string{
		{"inspect", fifo},
		{"convert", fifo, "-o", filepath.Join(dir, "out.safetensors")},
		{"inspect", sharded},
		{"merge", soup, "-o", filepath.Join(dir, "out.safetensors"), "--quiet"},
		{"merge", recipeFIFO, "-o", filepath.Join(dir, "out.safetensors"), "--quiet"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := ladleProcess(t, nil, args...)
		cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		cmd.Env = append(os.Environ(), asLadleEnv+"=1")
		msg, err := cmd.CombinedOutput()
		blocked := ctx.Err() != nil
		cancel()
		if blocked {
			t.Errorf("%v blocked (killed after 20 s)", args)
			continue
		}
		if err == nil || !strings.Contains(string(msg), "named pipe (FIFO), not a regular file") {
			t.Errorf("%v: %v, %s; want a refusal of the FIFO", args, err, msg)
		}
	}
}

// An input truncated while a merge reads it through its memory map ends the merge with
// an error naming the file and the tensor, not a SIGBUS crash, and leaves no output.
func TestInputTruncatedDuringMerge(t *testing.T) {
	for _, threads := range []string{"1", "2"} {
		t.Run("threads "+threads, func(t *testing.T) {
			dir := t.TempDir()
			writeF32Model(t, filepath.Join(dir, "a.safetensors"), 5, 1<<18, 1)
			b := filepath.Join(dir, "b.safetensors")
			writeF32Model(t, b, 5, 1<<18, 2)
			recipe := filepath.Join(dir, "soup.yaml")
			os.WriteFile(recipe, []byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n"), 0o644)
			out := filepath.Join(dir, "out.safetensors")
			cmd, stderr, drained := startPaused(t, "500ms", "merge", recipe, "-o", out, "--quiet", "--threads", threads)
			// The next tensors are mapped by now (read-ahead); cut b to its header.
			if err := os.Truncate(b, 4096); err != nil {
				t.Fatal(err)
			}
			<-drained
			code := exitCode(t, cmd)
			msg := stderr.String()
			if code != 1 || !strings.Contains(msg, b) || !strings.Contains(msg, `tensor "layers.`) ||
				!(strings.Contains(msg, "changed while it was being merged") || strings.Contains(msg, "ends early")) {
				t.Errorf("exit %d; want 1 and an error naming %s and the tensor:\n%s", code, b, msg)
			}
			if strings.Contains(msg, "fault address") || strings.Contains(msg, "goroutine ") {
				t.Errorf("a crash, not an error:\n%s", msg)
			}
			if _, err := os.Stat(out); err == nil || len(partialsIn(t, dir)) > 0 {
				t.Error("an output or a partial file was left")
			}
		})
	}
}

// --threads beyond any machine's cores is refused at once (it used to allocate scratch
// for every thread: 168 GB for 10^9).
func TestThreadsAreBounded(t *testing.T) {
	dir := t.TempDir()
	writeF32Model(t, filepath.Join(dir, "a.safetensors"), 1, 4, 1)
	recipe := filepath.Join(dir, "soup.yaml")
	os.WriteFile(recipe, []byte("merge_method: linear\nmodels: [a.safetensors, a.safetensors]\n"), 0o644)
	for _, n := range []string{"1000000000", "-1"} {
		var stdout, stderr strings.Builder
		if code := run([]string{"merge", recipe, "-o", filepath.Join(dir, "out.safetensors"), "--threads", n}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--threads must be from 0") {
			t.Errorf("--threads %s: exit %d, %q", n, code, stderr.String())
		}
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"merge", recipe, "-o", filepath.Join(dir, "out.safetensors"), "--threads", "1024", "--quiet"}, &stdout, &stderr); code != 0 {
		t.Errorf("--threads 1024: exit %d, %q", code, stderr.String())
	}
}
