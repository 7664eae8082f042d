package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An output path that names one of the command's own inputs is refused, and the input
// is left as it was: `ladle merge r.yaml -o r.yaml` used to replace the recipe with the
// merged checkpoint, and `-o a.safetensors` a model with the merge of itself.
func TestOutputMayNotReplaceAnInput(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"base.safetensors", "a.safetensors", "b.safetensors"} {
		writeLlamaModel(t, dir, name, 2, uint64(i+1))
	}
	recipePath := filepath.Join(dir, "r.yaml")
	os.WriteFile(recipePath, []byte("merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\n"), 0o644)
	csvPath := filepath.Join(dir, "t.csv")
	os.WriteFile(csvPath, []byte("a,b,label\n1,2,0\n3,4,1\n"), 0o644)
	snapshot := func() map[string][]byte {
		m := map[string][]byte{}
		for _, n := range []string{"r.yaml", "base.safetensors", "a.safetensors", "b.safetensors", "t.csv"} {
			m[n], _ = os.ReadFile(filepath.Join(dir, n))
		}
		return m
	}
	before := snapshot()
	cases := [][]string{
		{"merge", recipePath, "-o", recipePath},
		{"merge", recipePath, "-o", filepath.Join(dir, "a.safetensors")},
		{"merge", recipePath, "-o", filepath.Join(dir, ".", "base.safetensors"), "--quiet"},
		{"data", "import-csv", csvPath, "--label-column", "2", "-o", csvPath},
		{"fisher", filepath.Join(dir, "a.safetensors"), "--data", csvPath, "-o", filepath.Join(dir, "a.safetensors")},
		{"align", filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors"), "-o", filepath.Join(dir, "b.safetensors")},
	}
	for _, args := range cases {
		code, _, stderr := runCLI(t, args...)
		if code != 1 || !strings.Contains(stderr, "is one of the inputs") || !strings.Contains(stderr, "choose another output path") {
			t.Errorf("ladle %v: exit %d, %q", args, code, stderr)
		}
	}
	for n, b := range snapshot() {
		if !bytes.Equal(b, before[n]) {
			t.Errorf("%s was changed", n)
		}
	}
	// A new path is fine.
	if code, _, stderr := runCLI(t, "merge", recipePath, "-o", filepath.Join(dir, "merged.safetensors"), "--quiet"); code != 0 {
		t.Errorf("merge to a new path: exit %d, %q", code, stderr)
	}
}
