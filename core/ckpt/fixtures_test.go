package ckpt_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/dtype"
)

// The three burn-mnist runs come in three containers (a zip state dict with an inner
// folder named mnist/, a whole pickled nn.Module, and safetensors) and must list the same
// 20 tensors with the same shapes and dtypes.
func TestBurnMNISTContainersAgree(t *testing.T) {
	dir := ckpttest.Fixture(t, "burn-mnist")
	type entry struct {
		dt    dtype.DType
		shape []int64
	}
	var first map[string]entry
	for _, name := range []string{"run-a.pt", "run-b-whole-module.pt", "run-c.safetensors"} {
		src, err := ckpt.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]entry{}
		for _, info := range src.Tensors() {
			got[info.Name] = entry{info.DType, append([]int64{}, info.Shape...)}
		}
		src.Close()
		if len(got) != 20 {
			t.Errorf("%s: %d tensors, want 20", name, len(got))
		}
		if first == nil {
			first = got
			continue
		}
		if !reflect.DeepEqual(got, first) {
			t.Errorf("%s lists other tensors than run-a.pt:\n%v\n%v", name, got, first)
		}
	}
	want := map[string][]int64{"conv1.weight": {8, 1, 3, 3}, "conv3.weight": {24, 16, 3, 3}, "fc1.weight": {32, 11616}, "norm2.running_var": {10}, "norm1.num_batches_tracked": {}}
	for name, shape := range want {
		if e := first[name]; !reflect.DeepEqual(e.shape, shape) {
			t.Errorf("%s has shape %v, want %v", name, e.shape, shape)
		}
	}
}
