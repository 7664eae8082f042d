package ckpt_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
	"ladle/core/ckpt/ckpttest"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The format comes from the bytes: a safetensors file named .pt opens as safetensors.
func TestOpenSniffsBytesNotExtension(t *testing.T) {
	dir := t.TempDir()
	disguised := filepath.Join(dir, "weights.pt")
	copyFile(t, ckpttest.Fixture(t, "safetensors-samples/f.safetensors"), disguised)
	src, err := ckpt.Open(disguised)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Format() != "safetensors" || len(src.Tensors()) != 1 {
		t.Errorf("opened as %s with %d tensors", src.Format(), len(src.Tensors()))
	}
}

func TestOpenUnknownFormat(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty.safetensors": "", "text.pt": "hello, world", "json.bin": `{"not": "an index"}`} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		_, err := ckpt.Open(p)
		if err == nil {
			t.Errorf("%s opened", name)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: the error does not name the file: %v", name, err)
		}
	}
	_, err := ckpt.Open(filepath.Join(dir, "text.pt"))
	var unknown *ckpt.UnknownFormatError
	if !errors.As(err, &unknown) {
		t.Errorf("want an UnknownFormatError, got %T %v", err, err)
	}
	if _, err := ckpt.Open(dir); err == nil || !strings.Contains(err.Error(), "index") {
		t.Errorf("a folder without an index: %v", err)
	}
	if _, err := ckpt.Open(filepath.Join(dir, "nothing-here")); err == nil || !strings.Contains(err.Error(), "nothing-here") {
		t.Errorf("a missing path: %v", err)
	}
}

func TestAtomicFile(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "out.safetensors")
	f, err := ckpt.CreateAtomic(final)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial"))
	if _, err := os.Stat(final); err == nil {
		t.Error("the final file exists before Commit")
	}
	f.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Abort left %d files", len(entries))
	}
	f, _ = ckpt.CreateAtomic(final)
	f.Write([]byte("whole"))
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // after Commit: nothing happens
	if b, _ := os.ReadFile(final); !bytes.Equal(b, []byte("whole")) {
		t.Errorf("committed file holds %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files after Commit, want 1", len(entries))
	}
}

func TestNumElements(t *testing.T) {
	cases := []struct {
		shape []int64
		want  int64
	}{
		{nil, 1}, {[]int64{}, 1}, {[]int64{0, 5}, 0}, {[]int64{2, 3, 4}, 24},
		{[]int64{-1}, -1}, {[]int64{1 << 32, 1 << 31}, -1}, {[]int64{1 << 62, 2}, -1}, {[]int64{1 << 31, 1 << 31}, 1 << 62},
	}
	for _, c := range cases {
		if got := ckpt.NumElements(c.shape); got != c.want {
			t.Errorf("NumElements(%v) = %d, want %d", c.shape, got, c.want)
		}
	}
}
