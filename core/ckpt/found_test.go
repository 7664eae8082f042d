package ckpt_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
)

// A file that is no checkpoint is described by what it holds, with what to do.
func TestOpenSaysWhatWasFound(t *testing.T) {
	dir := t.TempDir()
	pt, err := os.ReadFile(ckpttest.Fixture(t, "burn-mnist/run-a.pt"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile(ckpttest.Fixture(t, "burn-mnist/run-c.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		content []byte
		want    []string
	}{
		"empty.safetensors":     {nil, []string{"empty", "get the checkpoint again"}},
		"notes.safetensors":     {[]byte("These are my notes.\nline two\n"), []string{"holds text", `"These are my notes."`, "renamed"}},
		"page.pt":               {[]byte("<!DOCTYPE html><html><body>Sign in</body></html>"), []string{"web page", "download the file itself"}},
		"lfs.safetensors":       {[]byte("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"), []string{"Git LFS pointer", "git lfs pull"}},
		"truncated.pt":          {pt[:len(pt)/2], []string{"truncated", "byte " + strconv.Itoa(len(pt)/2), "download it again"}},
		"truncated.safetensors": {st[:len(st)-100], []string{"truncated at byte " + strconv.Itoa(len(st)-100) + " of " + strconv.Itoa(len(st))}},
		"binary.bin":            {[]byte{0, 1, 2, 3, 200, 201}, []string{"match none of"}},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, tc.content, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ckpt.Open(p)
		if err == nil {
			t.Errorf("%s opened", name)
			continue
		}
		for _, w := range append(tc.want, name) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, err, w)
			}
		}
		if strings.Contains(err.Error(), "not a valid zip file") {
			t.Errorf("%s: %q", name, err)
		}
	}
}
