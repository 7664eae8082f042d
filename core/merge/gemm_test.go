package merge

import (
	"math"
	"math/rand/v2"
	"testing"
)

// dotsInto against the naive triple loop, bit for bit: each element is one chain of
// rounded products in ascending k, whatever the blocking and the worker count.
func TestDotsIntoMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	vecs := func(n, k int) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			out[i] = make([]float64, k)
			for j := range out[i] {
				out[i][j] = r.NormFloat64() * math.Exp(4*r.NormFloat64())
			}
		}
		return out
	}
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 2, 256}, {9, 7, 257}, {70, 33, 600}, {130, 131, 300}, {300, 520, 40}} {
		np, nq, kn := sz[0], sz[1], sz[2]
		xs, ys := vecs(np, kn), vecs(nq, kn)
		want := make([]float64, np*nq)
		for p := range np {
			for q := range nq {
				s := 0.0
				for k := range kn {
					s += float64(xs[p][k] * ys[q][k])
				}
				want[p*nq+q] = s
			}
		}
		for _, workers := range []int{1, 2, 5} {
			got := make([]float64, np*nq)
			for i := range got {
				got[i] = math.NaN() // dotsInto must set every element
			}
			dotsInto(got, xs, ys, kn, false, workers)
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("%v workers %d: element %d = %v, naive %v", sz, workers, i, got[i], want[i])
				}
			}
			// The symmetric case: xs against themselves.
			sym := make([]float64, np*np)
			dotsInto(sym, xs, xs, kn, true, workers)
			for p := range np {
				for q := range np {
					s := 0.0
					for k := range kn {
						s += float64(xs[p][k] * xs[q][k])
					}
					if math.Float64bits(sym[p*np+q]) != math.Float64bits(s) {
						t.Fatalf("%v symmetric, workers %d: (%d, %d) = %v, naive %v", sz, workers, p, q, sym[p*np+q], s)
					}
				}
			}
		}
	}
}

func BenchmarkDotsInto1024(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 1024
	xs, ys := make([][]float64, n), make([][]float64, n)
	for i := range xs {
		xs[i], ys[i] = make([]float64, n), make([]float64, n)
		for k := range n {
			xs[i][k], ys[i][k] = r.NormFloat64(), r.NormFloat64()
		}
	}
	out := make([]float64, n*n)
	b.SetBytes(2 * n * n * n) // "bytes" = flops: MB/s reads as Mflop/s
	for b.Loop() {
		dotsInto(out, xs, ys, n, false, 1)
	}
}
