//go:build unix

package ckpt

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// CreateAtomic refuses an existing output that is not a regular file, and the thing
// stays as it was.
func TestCreateAtomicRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	for _, p := range []string{fifo, link, dir} {
		if f, err := CreateAtomic(p); err == nil {
			f.Abort()
			t.Errorf("%s: accepted as an output", p)
		} else if !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := WriteFileAtomic(target, []byte("new")); err != nil {
		t.Errorf("a regular file cannot be replaced: %v", err)
	}
}

// The sweep removes unlocked partial files of the output's own naming only.
func TestSweepStalePartials(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".out.safetensors.123.partial")
	others := []string{
		filepath.Join(dir, ".out.safetensors.12x.partial"),      // not CreateTemp's digits
		filepath.Join(dir, ".other.safetensors.123.partial"),    // another output
		filepath.Join(dir, "out.safetensors.123.partial"),       // not hidden: not Ladle's
		filepath.Join(dir, ".out.safetensors.123.partial.keep"), // not a partial
	}
	for _, p := range append(others, stale) {
		os.WriteFile(p, []byte("x"), 0o644)
	}
	live, err := CreatePartial(dir, ".out.safetensors.*.partial")
	if err != nil {
		t.Fatal(err)
	}
	defer RemovePartial(live.Name())
	var told []string
	StaleRemoved = func(p string) { told = append(told, p) }
	defer func() { StaleRemoved = nil }()
	removed := SweepStalePartials(dir, ".out.safetensors.")
	if len(removed) != 1 || removed[0] != stale || len(told) != 1 {
		t.Errorf("removed %v (told %v), want only %s", removed, told, stale)
	}
	for _, p := range append(others, live.Name()) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
}

// RemovePartials (a signal's clean-up) deletes the partial files still open, the
// staging folders with all they hold, and the output folders created for outputs that
// hold nothing else; afterwards no output can start.
func TestRemovePartials(t *testing.T) {
	defer func() { // let the package's other tests write again
		partials.Lock()
		partials.stopped = false
		partials.Unlock()
	}()
	dir := t.TempDir()
	f, err := CreateAtomic(filepath.Join(dir, "out.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	staging, err := MkdirStaging(dir, ".adapter.partial-")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(staging, "adapter_config.json"), []byte("{}"), 0o644)
	created, err := MkdirOutput(filepath.Join(dir, "new", "sharded"))
	if err != nil || created != filepath.Join(dir, "new") {
		t.Fatalf("MkdirOutput: %q, %v", created, err)
	}
	removed := RemovePartials()
	if len(removed) != 2 {
		t.Errorf("removed %v, want the partial file and the staging folder", removed)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
	if _, err := CreateAtomic(filepath.Join(dir, "later.safetensors")); err == nil {
		t.Error("an output started after RemovePartials")
	}
	if err := f.Commit(); err == nil {
		t.Error("a partial file was committed after RemovePartials")
	}
}
