package eval

import (
	"fmt"
	"math"
)

// LinearAssignment solves the linear assignment problem exactly: it returns the
// permutation perm (row i goes to column perm[i]) that maximises Σᵢ w[i·n + perm[i]]
// over the n×n matrix w (row-major), and that maximum.
//
// It is the Hungarian method in its shortest-augmenting-path form (Jonker and
// Volgenant; Kuhn–Munkres with row and column potentials): n augmentations of O(n²)
// each, O(n³) in all, in float64. The result is optimal up to float64 rounding of
// the potentials. Ties between equally good assignments are broken the same way on
// every run. Non-finite entries are an error.
func LinearAssignment(w []float64, n int) ([]int, float64, error) {
	if n < 0 || len(w) != n*n {
		return nil, 0, fmt.Errorf("assignment: a %d×%d matrix needs %d values, got %d", n, n, n*n, len(w))
	}
	for i, v := range w {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, fmt.Errorf("assignment: entry (%d, %d) is %v; the matrix must be finite", i/n, i%n, v)
		}
	}
	if n == 0 {
		return []int{}, 0, nil
	}
	// Minimise the cost −w. Rows and columns are numbered from 1; column 0 is the
	// virtual start of each augmenting path, p[j] the row matched to column j.
	u := make([]float64, n+1)
	v := make([]float64, n+1)
	p := make([]int, n+1)
	way := make([]int, n+1)
	minv := make([]float64, n+1)
	used := make([]bool, n+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := p[j0]
			row := w[(i0-1)*n : i0*n]
			delta, j1 := math.Inf(1), 0
			for j := 1; j <= n; j++ {
				if used[j] {
					continue
				}
				cur := -row[j-1] - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			if j1 == 0 { // cannot happen with finite costs; guards against an endless loop
				return nil, 0, fmt.Errorf("assignment: no augmenting path (internal error)")
			}
			for j := 0; j <= n; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	perm := make([]int, n)
	for j := 1; j <= n; j++ {
		perm[p[j]-1] = j - 1
	}
	total := 0.0
	for i, j := range perm {
		total += w[i*n+j]
	}
	return perm, total, nil
}
