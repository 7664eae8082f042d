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

// writeVectors writes a safetensors file of 1-D F32 tensors, in the order given.
func writeVectors(t *testing.T, path string, names []string, values [][]float32, metadata map[string]string) {
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
	writeVectors(t, a, []string{evil, "ok"}, [][]float32{{1, 2}, {3}}, map[string]string{"note\x1b]0;title\x07": "v\x1b[31m"})
	writeVectors(t, b, []string{evil, "ok"}, [][]float32{{1, 2, 3}, {3}}, nil)

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

// Errors found while merging name the recipe, the input file that caused them and
// the tensor, not only the method.
func TestRunTimeErrorsNameRecipeAndInput(t *testing.T) {
	dir := t.TempDir()
	writeVectors(t, filepath.Join(dir, "good.safetensors"), []string{"fc.bias", "fc.weight"}, [][]float32{{0, 0}, {1, 2, 3, 4}}, nil)
	writeVectors(t, filepath.Join(dir, "broken.safetensors"), []string{"fc.bias", "fc.weight"}, [][]float32{{0, 0}, {1, 2, float32(math.NaN()), 4}}, nil)
	cases := []struct {
		name, recipe string
		want         []string
	}{
		{"NaN input", "merge_method: linear\nmodels: [good.safetensors, broken.safetensors]\n",
			[]string{"nan.yaml", "broken.safetensors", `"fc.weight"`, "NaN", "element 2"}},
		{"zero weight sum", "merge_method: linear\nmodels:\n  - {model: good.safetensors, parameters: {weight: 1}}\n  - {model: broken.safetensors, parameters: {weight: -1}}\n",
			[]string{"zero.yaml", "good.safetensors", "broken.safetensors", "sum to 0", `"fc.bias"`}},
		{"NaN in a task vector", "merge_method: task_arithmetic\nbase_model: good.safetensors\nmodels: [broken.safetensors]\n",
			[]string{"ta.yaml", "broken.safetensors", `"fc.weight"`}},
	}
	for _, c := range cases {
		file := map[string]string{"NaN input": "nan.yaml", "zero weight sum": "zero.yaml", "NaN in a task vector": "ta.yaml"}[c.name]
		recipe := filepath.Join(dir, file)
		os.WriteFile(recipe, []byte(c.recipe), 0o644)
		code, _, stderr := runCLI(t, "merge", recipe, "-o", filepath.Join(dir, "out.safetensors"))
		if code != 1 {
			t.Errorf("%s: exit %d: %s", c.name, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: the error does not say %q: %s", c.name, w, stderr)
			}
		}
	}
}
