package merge

import (
	"math"
	"testing"
)

// A NaN or Inf in the output is traced to the input that holds one, by name and
// index; when none does, the message says the arithmetic overflowed instead.
func TestNonFiniteNamesTheInput(t *testing.T) {
	nan := math.NaN()
	j := &Job{Tensor: "fc.weight", Shape: []int64{2, 2}, Models: [][]float32{f32(1, 2, 3, 4), f32(1, 2, 3, nan)},
		ModelNames: []string{"a.safetensors", "b.safetensors"}}
	mergeErr(t, "linear", j, "b.safetensors holds NaN there", "element 3 [1, 1]")

	// model_stock mixes elements (its cosine): the NaN at element 0 spoils them all.
	j = &Job{Tensor: "w", Base: f32(0, 0, 0), Models: [][]float32{f32(1, 2, 3), f32(1, 1, nan)}, BaseName: "base.safetensors",
		ModelNames: []string{"a.safetensors", "b.safetensors"}}
	mergeErr(t, "model_stock", j, "b.safetensors holds NaN at element 2", "element 0")

	// Finite inputs, overflowing weights.
	j = &Job{Tensor: "w", Models: [][]float32{f32(3e38), f32(3e38)}, ModelParams: []Params{{"weight": 1.0}, {"weight": 1.0}},
		Params: Params{"normalize": false}}
	mergeErr(t, "linear", j, "no input holds NaN or Inf", "+Inf")

	// Without names, the inputs are numbered as before; the base is the base.
	j = &Job{Tensor: "w", Base: f32(float64(float32(math.Inf(1)))), Models: [][]float32{f32(1)}}
	mergeErr(t, "task_arithmetic", j, "the base model holds +Inf there")
}
