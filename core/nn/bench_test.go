package nn

import (
	"math/rand/v2"
	"testing"
)

// benchMatmul times one product of the burn-mnist shapes and reports GFLOPS.
func benchMatmul(b *testing.B, m, n, k int, implicit bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	ld := padCols(n)
	a := randSlice(rng, m*k)
	var bm []float32
	var rows []int32
	if implicit {
		bm = randSlice(rng, k+ld+64)
		rows = make([]int32, k)
		for l := range rows {
			rows[l] = int32(l % 64)
		}
	} else {
		bm = randSlice(rng, k*ld)
	}
	c := make([]float32, m*ld)
	bias := randSlice(rng, m)
	b.ResetTimer()
	for b.Loop() {
		matmul(m, n, k, a, k, bm, ld, rows, c, ld, bias, true)
	}
	b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

func BenchmarkMatmulConv3(b *testing.B) { benchMatmul(b, 24, 22*24, 144, true) }
func BenchmarkMatmulConv2(b *testing.B) { benchMatmul(b, 16, 24*26, 72, true) }
func BenchmarkMatmulFC1(b *testing.B)   { benchMatmul(b, 16, 32, 11616, false) }
