package main

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// Tensors with no elements (shape [0], [0, 3]) are legal in safetensors and do occur in
// real checkpoints: every method passes them through. With a base model they failed
// with "needs a base model; set base_model in the recipe" (the empty base read as nil).
func TestEmptyTensorsMergeWithEveryMethod(t *testing.T) {
	dir := t.TempDir()
	infos := []ckpt.Info{
		{Name: "empty", DType: dtype.F32, Shape: []int64{0}},
		{Name: "w", DType: dtype.F32, Shape: []int64{2, 3}},
		{Name: "empty2", DType: dtype.F32, Shape: []int64{0, 3}},
	}
	for i, name := range []string{"base", "a", "b", "c"} {
		w := make([]byte, 0, 24)
		for e := range 6 {
			w = binary.LittleEndian.AppendUint32(w, math.Float32bits(float32(e+1)+float32(i*(e%3-1))*0.25))
		}
		writeSafetensors(t, filepath.Join(dir, name+".safetensors"), infos, [][]byte{nil, w, nil})
	}
	recipes := map[string]string{
		"linear":           "models: [a.safetensors, b.safetensors]",
		"task_arithmetic":  "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]",
		"ties":             "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {density: 0.5}",
		"dare_ties":        "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {density: 0.5}",
		"breadcrumbs_ties": "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {density: 0.5}",
		"della":            "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {density: 0.5}",
		"tsv_merge":        "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]",
		"iso_c":            "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]",
		"iso_cts":          "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]",
		"pcb":              "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]",
		"sce":              "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {select_topk: 0.5}",
		"model_stock":      "base_model: base.safetensors\nmodels: [a.safetensors, c.safetensors]",
		"slerp":            "base_model: base.safetensors\nmodels: [a.safetensors]\nparameters: {t: 0.3}",
		"nearswap":         "base_model: base.safetensors\nmodels: [a.safetensors]\nparameters: {t: 0.3}",
		"nuslerp":          "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]",
		"multislerp":       "base_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]",
		"karcher":          "models: [a.safetensors, b.safetensors]",
		"passthrough":      "models: [a.safetensors]",
		"wise_ft":          "models: [a.safetensors, b.safetensors]",
	}
	for method, body := range recipes {
		recipePath := filepath.Join(dir, method+".yaml")
		os.WriteFile(recipePath, []byte("merge_method: "+method+"\n"+body+"\n"), 0o644)
		out := filepath.Join(dir, method+".out.safetensors")
		code, _, stderr := runCLI(t, "merge", recipePath, "-o", out, "--quiet")
		if code != 0 {
			t.Errorf("%s: exit %d: %s", method, code, stderr)
			continue
		}
		src, err := ckpt.Open(out)
		if err != nil {
			t.Errorf("%s: %v", method, err)
			continue
		}
		for _, want := range infos {
			got, ok := ckpt.Lookup(src, want.Name)
			if !ok || got.NumElements() != want.NumElements() || len(got.Shape) != len(want.Shape) {
				t.Errorf("%s: tensor %s is %+v, want shape %v", method, want.Name, got, want.Shape)
			}
		}
		src.Close()
	}
}
