package merge

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// symEigen against gonum's EigenSym (LAPACK's algorithm): the same eigenvalues, and
// eigenvectors that are orthonormal and satisfy G v = λ v, on awkward sizes and on a
// matrix with repeated and zero eigenvalues.
func TestSymEigen(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, tc := range []struct {
		n, rank int
	}{{1, 1}, {2, 2}, {3, 3}, {5, 5}, {33, 33}, {70, 70}, {80, 7}} {
		n := tc.n
		// G = XᵀX with X rank×n: rank-deficient when rank < n.
		x := mat.NewDense(tc.rank, n, nil)
		for i := range tc.rank {
			for j := range n {
				x.Set(i, j, r.NormFloat64())
			}
		}
		var gm mat.Dense
		gm.Mul(x.T(), x)
		g := make([]float64, n*n)
		for i := range n {
			for j := range n {
				g[i*n+j] = gm.At(i, j)
			}
		}
		for _, workers := range []int{1, 3} {
			vals, vecs := symEigen(append([]float64(nil), g...), n, workers)
			var ref mat.EigenSym
			if !ref.Factorize(mat.NewSymDense(n, g), false) {
				t.Fatal("gonum EigenSym failed")
			}
			want := ref.Values(nil) // ascending
			scale := want[n-1]
			for k := range n {
				if math.Abs(vals[k]-want[n-1-k]) > 1e-12*scale {
					t.Errorf("n=%d: λ%d = %v, gonum %v", n, k, vals[k], want[n-1-k])
				}
				if k > 0 && vals[k] > vals[k-1] {
					t.Errorf("n=%d: eigenvalues not descending at %d", n, k)
				}
			}
			for a := range n {
				for b := range n {
					want := 0.0
					if a == b {
						want = 1
					}
					if d := chain(0, vecs[a], vecs[b]); math.Abs(d-want) > 1e-12 {
						t.Fatalf("n=%d: <v%d, v%d> = %v", n, a, b, d)
					}
				}
				// ‖G v − λ v‖ ≤ 1e-12·‖G‖.
				res := 0.0
				for i := range n {
					s := 0.0
					for j := range n {
						s += g[i*n+j] * vecs[a][j]
					}
					res += (s - vals[a]*vecs[a][i]) * (s - vals[a]*vecs[a][i])
				}
				if math.Sqrt(res) > 1e-12*scale {
					t.Errorf("n=%d: ‖G v%d − λ v%d‖ = %v", n, a, a, math.Sqrt(res))
				}
			}
		}
	}
}
