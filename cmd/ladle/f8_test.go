package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// F8 checkpoints are read, but Ladle writes no F8: a merge of F8 models says so before
// merging, and names the fix (out_dtype), instead of failing at the write with
// "EncodeF32: cannot encode to F8_E4M3"; with out_dtype it runs.
func TestF8ModelsNeedAnOutDType(t *testing.T) {
	dir := t.TempDir()
	infos := []ckpt.Info{{Name: "w", DType: dtype.F8_E4M3, Shape: []int64{4}}, {Name: "b", DType: dtype.F32, Shape: []int64{1}}}
	writeSafetensors(t, filepath.Join(dir, "a.safetensors"), infos, [][]byte{{0x38, 0x40, 0xb8, 0}, {0, 0, 0x80, 0x3f}})
	writeSafetensors(t, filepath.Join(dir, "b.safetensors"), infos, [][]byte{{0x30, 0x48, 0xb0, 8}, {0, 0, 0, 0x40}})
	recipePath := filepath.Join(dir, "r.yaml")
	os.WriteFile(recipePath, []byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n"), 0o644)
	out := filepath.Join(dir, "m.safetensors")
	code, _, stderr := runCLI(t, "merge", recipePath, "-o", out, "--quiet")
	if code != 1 || !strings.Contains(stderr, `tensor "w" is F8_E4M3`) || !strings.Contains(stderr, "set out_dtype: bfloat16") {
		t.Errorf("F8 merge without out_dtype: exit %d, %q", code, stderr)
	}
	os.WriteFile(recipePath, []byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\nout_dtype: bfloat16\n"), 0o644)
	if code, _, stderr := runCLI(t, "merge", recipePath, "-o", out, "--quiet"); code != 0 {
		t.Errorf("F8 merge with out_dtype: exit %d, %q", code, stderr)
	}
}
