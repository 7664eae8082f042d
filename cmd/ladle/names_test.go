package main

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

// writeF32s writes a safetensors file of 1-D F32 tensors, in the order given.
func writeF32s(t *testing.T, path string, names []string, values [][]float32, metadata map[string]string) {
	t.Helper()
	infos := make([]ckpt.Info, len(names))
	for i, n := range names {
		infos[i] = ckpt.Info{Name: n, DType: dtype.F32, Shape: []int64{int64(len(values[i]))}}
	}
	err := safetensors.WriteFile(path, infos, metadata, func(w *safetensors.Writer) error {
		for i, n := range names {
			b := make([]byte, 4*len(values[i]))
			for k, v := range values[i] {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(v))
			}
			if err := w.WriteTensor(n, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hasControl reports a control character (other than the line breaks between
// lines of output) or a Unicode bidi override in s.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\n') || (r >= 0x7f && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
	})
}

// A tensor name (or metadata) holding terminal escapes or a bidi override is shown
// escaped, never raw: raw, it could recolour or rewrite the terminal, or make one
// name look like another.
func TestNamesWithControlCharactersAreEscaped(t *testing.T) {
	dir := t.TempDir()
	evil := "fc.weight\x1b[2K\rfake line\u202e"
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	writeF32s(t, a, []string{evil, "ok"}, [][]float32{{1, 2}, {3}}, map[string]string{"note\x1b]0;title\x07": "v\x1b[31m"})
	writeF32s(t, b, []string{evil, "ok"}, [][]float32{{1, 2, 3}, {3}}, nil)

	code, stdout, stderr := runCLI(t, "inspect", a)
	if code != 0 || hasControl(stdout) || !strings.Contains(stdout, `"fc.weight\x1b[2K\rfake line\u202e"`) {
		t.Errorf("inspect: exit %d, %q %q", code, stdout, stderr)
	}
	// In errors: a shape mismatch between the two models names the tensor.
	recipe := filepath.Join(dir, "r.yaml")
	os.WriteFile(recipe, []byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n"), 0o644)
	code, _, stderr = runCLI(t, "merge", recipe, "-o", filepath.Join(dir, "out.safetensors"))
	if code == 0 || hasControl(stderr) || !strings.Contains(stderr, `fc.weight\x1b[2K`) {
		t.Errorf("merge: exit %d, stderr %q", code, stderr)
	}
	// A name the index of a sharded checkpoint does not find, and a missing tensor.
	code, _, stderr = runCLI(t, "inspect", filepath.Join(dir, "no\x1b[31msuch.safetensors"))
	if code == 0 || hasControl(stderr) {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}
