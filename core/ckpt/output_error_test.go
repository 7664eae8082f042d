package ckpt

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An output that cannot be created is reported by its own path and folder, with what
// to do, never by the name of the temporary file it would have been written through.
func TestOutputErrorNamesTheOutput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "missing", "merged.safetensors")
	f, err := CreateAtomic(out)
	if err == nil {
		f.Abort()
		t.Fatal("an output in a missing folder was created")
	}
	msg := err.Error()
	for _, want := range []string{out, "does not exist", "create it or choose another output path"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, ".partial") {
		t.Errorf("error %q names the temporary file", msg)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}

	_, err = MkdirStaging(filepath.Join(dir, "missing"), ".adapter.partial-")
	if err == nil || strings.Contains(err.Error(), ".partial") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("staging folder in a missing folder: %v", err)
	}
}

// A folder the user may not write to says so (only testable when not root: root
// writes anywhere).
func TestOutputErrorReadOnlyFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: a read-only folder is writable")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	out := filepath.Join(dir, "merged.safetensors")
	f, err := CreateAtomic(out)
	if err == nil {
		f.Abort()
		t.Fatal("an output in a read-only folder was created")
	}
	if msg := err.Error(); !strings.Contains(msg, out) || !strings.Contains(msg, "not writable") || strings.Contains(msg, ".partial") {
		t.Errorf("error %q", msg)
	}
}

// A folder output (a sharded checkpoint) whose parent is missing names the folder too.
func TestOutputErrorFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(dir, []byte("x"), 0o644)
	_, err := MkdirOutput(filepath.Join(dir, "sub", "merged"))
	if err == nil || !strings.Contains(err.Error(), "cannot write "+filepath.Join(dir, "sub", "merged")) || strings.Contains(err.Error(), "lstat") {
		t.Errorf("MkdirOutput under a file: %v", err)
	}
}
