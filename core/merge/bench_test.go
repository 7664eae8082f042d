package merge

import (
	"math/rand/v2"
	"testing"
)

// benchMerge merges 4 models of 4M elements (a 16 MiB float32 tensor each, plus the
// base when the method needs one); SetBytes counts the input bytes.
func benchMerge(b *testing.B, name string, workers int, params Params, mparams Params) {
	const n, nm = 4 << 20, 4
	r := rand.New(rand.NewPCG(1, 2))
	base := randT(r, n)
	m := method(b, name)
	models := make([][]float32, nm)
	mps := make([]Params, nm)
	for i := range models {
		models[i] = near(r, base, 0.01)
		mps[i] = mparams
	}
	j := &Job{Tensor: "model.layers.0.mlp.up_proj.weight", Shape: []int64{4096, 1024}, Models: models, ModelParams: mps,
		Params: params, Workers: workers, Seed: 1}
	inputs := nm
	if m.NeedsBase {
		j.Base = base
		inputs++
	}
	out := make([]float32, n)
	b.SetBytes(int64(inputs) * n * 4)
	for b.Loop() {
		if err := m.Merge(j, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLinear(b *testing.B) { benchMerge(b, "linear", 1, nil, nil) }
func BenchmarkLinearWorkers4(b *testing.B) {
	benchMerge(b, "linear", 4, nil, nil)
}
func BenchmarkTaskArithmetic(b *testing.B) { benchMerge(b, "task_arithmetic", 1, nil, nil) }
func BenchmarkTies(b *testing.B) {
	benchMerge(b, "ties", 1, nil, Params{"density": 0.2})
}
func BenchmarkTiesWorkers4(b *testing.B) {
	benchMerge(b, "ties", 4, nil, Params{"density": 0.2})
}
func BenchmarkDareTies(b *testing.B) {
	benchMerge(b, "dare_ties", 1, nil, Params{"density": 0.2})
}
func BenchmarkDella(b *testing.B) {
	benchMerge(b, "della", 1, nil, Params{"density": 0.4})
}
func BenchmarkBreadcrumbs(b *testing.B) {
	benchMerge(b, "breadcrumbs", 1, nil, Params{"density": 0.5})
}
func BenchmarkModelStock(b *testing.B) { benchMerge(b, "model_stock", 1, nil, nil) }
