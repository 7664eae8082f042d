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

// benchSVD merges four rows×cols task matrices with an SVD method.
func benchSVD(b *testing.B, name string, rows, cols, workers int) {
	r := rand.New(rand.NewPCG(3, 4))
	base := randT(r, rows*cols)
	models := make([][]float32, 4)
	for i := range models {
		models[i] = near(r, base, 0.01)
	}
	j := &Job{Tensor: "model.layers.0.mlp.down_proj.weight", Shape: []int64{int64(rows), int64(cols)}, Base: base, Models: models, Workers: workers}
	out := make([]float32, rows*cols)
	b.SetBytes(int64(len(models)+1) * int64(rows*cols) * 4)
	for b.Loop() {
		if err := method(b, name).Merge(j, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTSVMerge256(b *testing.B)  { benchSVD(b, "tsv_merge", 256, 256, 2) }
func BenchmarkTSVMerge512(b *testing.B)  { benchSVD(b, "tsv_merge", 512, 512, 2) }
func BenchmarkIsoC512(b *testing.B)      { benchSVD(b, "iso_c", 512, 512, 2) }
func BenchmarkIsoCTS512(b *testing.B)    { benchSVD(b, "iso_cts", 512, 512, 2) }
func BenchmarkPCB(b *testing.B)          { benchMerge(b, "pcb", 1, nil, nil) }
func BenchmarkJacobiSVD512(b *testing.B) { benchJacobi(b, 512, 2) }

func benchJacobi(b *testing.B, n, workers int) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, n*n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	for b.Loop() {
		svdOf(n, n, func(i, c int) float64 { return x[i*n+c] }, -1, workers)
	}
}
