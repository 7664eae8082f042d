package merge

import (
	"math"
	"slices"
	"sync"
)

// A deterministic thin SVD for the SVD methods (tsv_merge, iso_c, iso_cts).
//
// Why not gonum's mat.SVD: its LAPACK port calls gonum's BLAS, whose amd64 kernels are
// assembly that sums dot products in four interleaved partial sums, while every other
// target (wasm among them) sums them in order. The float64 results then differ in their
// last bits, and a float32 output rounded from them differs now and then by one ulp:
// the page and the command would not write the same bytes. So the methods use this
// one-sided Jacobi SVD (Hestenes), written out here with every product rounded
// explicitly (no fused multiply-add on any target), a fixed rotation order (the
// round-robin schedule), and rotations of disjoint column pairs run in parallel, so the
// result does not depend on the number of workers either. The tests check it against
// gonum's mat.SVD, the independent reference.

const (
	// svdDrop: components with σ ≤ svdDrop·σ_max are dropped (METHODS.md): their
	// singular vectors are arbitrary.
	svdDrop = 1e-6
	// jacobiMaxSweeps bounds the sweeps; one-sided Jacobi converges quadratically and
	// needs well under 20 in practice.
	jacobiMaxSweeps = 60
)

// svd is A = U diag(S) Vᵀ for an m×n matrix, k = min(m, n) components sorted by
// descending σ (equal σ: by the order Jacobi left them). u[j] has m entries and v[j] n;
// v is computed for the kept components only (nil beyond kept()), which is all the
// methods use.
type svd struct {
	s    []float64
	u, v [][]float64
}

// kept is how many leading components have σ > svdDrop·σ_max (0 when σ_max = 0).
func (d *svd) kept() int {
	if len(d.s) == 0 || !(d.s[0] > 0) {
		return 0
	}
	limit := svdDrop * d.s[0]
	n := 0
	for n < len(d.s) && d.s[n] > limit {
		n++
	}
	return n
}

// svdTestFlip, when set by a test, negates component j's (u, v) pair after the
// decomposition: results must not change (they depend on subspaces, not signs).
var svdTestFlip func(j int) bool

// svdOf decomposes the rows×cols matrix whose element (r, c) is at(r, c).
//
// One-sided Jacobi orthogonalises the columns of A (of Aᵀ when A is wide): A·V = W,
// σⱼ = ‖wⱼ‖, uⱼ = wⱼ/σⱼ. V is not accumulated rotation by rotation (that would cost as
// much again as the rotations of A); it is recovered at the end for the kept
// components as vⱼ = Aᵀuⱼ/σⱼ, accurate to about ε·σ_max/σⱼ ≤ 1e-10 there.
func svdOf(rows, cols int, at func(r, c int) float64, workers int) *svd {
	tall := rows >= cols
	m, n := rows, cols
	if !tall {
		m, n = cols, rows
	}
	a := make([][]float64, n)
	orig := make([][]float64, n)
	for j := range a {
		col := make([]float64, m)
		for i := range col {
			if tall {
				col[i] = at(i, j)
			} else {
				col[i] = at(j, i)
			}
		}
		a[j] = col
		orig[j] = slices.Clone(col)
	}
	jacobi(a, m, workers)
	sig := make([]float64, n)
	order := make([]int, n)
	for j := range a {
		sig[j] = math.Sqrt(sumSquares(a[j]))
		order[j] = j
	}
	slices.SortStableFunc(order, func(x, y int) int {
		switch {
		case sig[x] > sig[y]:
			return -1
		case sig[x] < sig[y]:
			return 1
		}
		return 0
	})
	d := &svd{s: make([]float64, n)}
	left := make([][]float64, n)
	for k, j := range order {
		d.s[k] = sig[j]
		w := a[j]
		if d.s[k] > 0 {
			for i := range w {
				w[i] /= d.s[k]
			}
		}
		left[k] = w
	}
	kept := d.kept()
	right := make([][]float64, n)
	parallelFor(kept, workers, func(k int) {
		u, v := left[k], make([]float64, n)
		for c, col := range orig {
			v[c] = dot(col, u) / d.s[k]
		}
		right[k] = v
	})
	for k := range kept {
		if svdTestFlip != nil && svdTestFlip(k) {
			for i := range left[k] {
				left[k][i] = -left[k][i]
			}
			for i := range right[k] {
				right[k][i] = -right[k][i]
			}
		}
	}
	if tall {
		d.u, d.v = left, right
	} else {
		d.u, d.v = right, left
	}
	return d
}

func sumSquares(x []float64) float64 { return dot(x, x) }

// dot is Σ x[i]·y[i] in four interleaved partial sums (lane i mod 4), added as
// (s0 + s1) + (s2 + s3) and then the tail in order: a fixed order on every target, and
// four times the speed of one chain of dependent additions.
func dot(x, y []float64) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i] * y[i])
		s1 += float64(x[i+1] * y[i+1])
		s2 += float64(x[i+2] * y[i+2])
		s3 += float64(x[i+3] * y[i+3])
	}
	s := (s0 + s1) + (s2 + s3)
	for ; i < len(x); i++ {
		s += float64(x[i] * y[i])
	}
	return s
}

// jacobi orthogonalises the n columns of a (each of length m ≥ n) in place by plane
// rotations: A·V = W with WᵀW diagonal (V itself is not kept). It returns the number
// of sweeps it made.
func jacobi(a [][]float64, m, workers int) int {
	n := len(a)
	if n < 2 {
		return 0
	}
	tol := max(1e-15, float64(m)*0x1p-52)
	// Round-robin (circle) schedule over an even number of players: every round pairs
	// each column with another, each pair of columns meets once per sweep, and the
	// pairs of one round touch disjoint columns.
	players := n + n%2
	rounds := players - 1
	pairs := players / 2
	rotated := make([]bool, pairs)
	norms := make([]float64, n) // squared column norms, updated by each rotation
	pair := func(round, k int) (int, int) {
		var p, q int
		if k == 0 {
			p, q = players-1, round
		} else {
			p, q = (round+k)%rounds, (round-k+rounds)%rounds
		}
		return min(p, q), max(p, q)
	}
	workers = max(1, min(workers, pairs))
	if m*n < 1<<14 {
		workers = 1 // too small to be worth goroutines
	}
	// Columns whose norm is below 1e-9·‖A‖_F are numerically zero: they are not
	// rotated. Otherwise, in a rank-deficient matrix, columns of rounding noise would
	// keep rotating among themselves sweep after sweep without ever looking orthogonal
	// to a relative tolerance. Such columns end as components far below the drop
	// threshold (1e-9·‖A‖_F ≤ 1e-9·√n·σ_max), and skipping their rotation with a
	// large column perturbs that column by at most their norm.
	var negligible float64
	doPairs := func(round, lo, hi int) {
		for k := lo; k < hi; k++ {
			p, q := pair(round, k)
			rotated[k] = q < n && min(norms[p], norms[q]) > negligible && rotate(a[p], a[q], &norms[p], &norms[q], tol)
		}
	}
	for sweep := 0; sweep < jacobiMaxSweeps; sweep++ {
		// Exact norms at the start of each sweep: the updates' rounding does not pile up.
		parallelFor(n, workers, func(j int) { norms[j] = sumSquares(a[j]) })
		total := 0.0
		for _, x := range norms {
			total += x
		}
		negligible = 1e-18 * total
		changed := false
		for round := 0; round < rounds; round++ {
			if workers == 1 {
				doPairs(round, 0, pairs)
			} else {
				var wg sync.WaitGroup
				for w := range workers {
					lo, hi := w*pairs/workers, (w+1)*pairs/workers
					wg.Go(func() { doPairs(round, lo, hi) })
				}
				wg.Wait()
			}
			for _, r := range rotated {
				changed = changed || r
			}
		}
		if !changed {
			return sweep + 1
		}
	}
	return jacobiMaxSweeps
}

// rotate makes columns x and y orthogonal by the Jacobi rotation that does it, given
// their squared norms (which it updates); it reports whether it rotated (false when
// they already are, to tolerance tol relative to their norms).
func rotate(x, y []float64, nx, ny *float64, tol float64) bool {
	alpha, beta := *nx, *ny
	if alpha == 0 || beta == 0 {
		return false
	}
	gamma := dot(x, y)
	if gamma == 0 || math.Abs(gamma) <= tol*math.Sqrt(alpha)*math.Sqrt(beta) {
		return false
	}
	zeta := (beta - alpha) / (2 * gamma)
	t := 1 / (math.Abs(zeta) + math.Sqrt(1+float64(zeta*zeta)))
	if zeta < 0 {
		t = -t
	}
	c := 1 / math.Sqrt(1+float64(t*t))
	s := c * t
	y = y[:len(x)]
	for i, xe := range x {
		ye := y[i]
		x[i] = float64(c*xe) - float64(s*ye)
		y[i] = float64(s*xe) + float64(c*ye)
	}
	*nx = alpha - float64(t*gamma)
	*ny = beta + float64(t*gamma)
	return true
}

// polar returns the orthogonal polar factor X⊥ = P·Qᵀ of the m×R matrix whose columns
// are cols (X = P Σ Qᵀ, kept components only), as R columns of length m.
func polar(cols [][]float64, m, workers int) [][]float64 {
	r := len(cols)
	out := make([][]float64, r)
	for j := range out {
		out[j] = make([]float64, m)
	}
	if r == 0 || m == 0 {
		return out
	}
	d := svdOf(m, r, func(i, j int) float64 { return cols[j][i] }, workers)
	kept := d.kept()
	// X⊥[:, j] = Σ_l P[:, l]·Q[j, l], l over the kept components in order.
	parallelFor(r, workers, func(j int) {
		o := out[j]
		for l := range kept {
			q := d.v[l][j]
			if q == 0 {
				continue
			}
			for i, pe := range d.u[l] {
				o[i] += float64(q * pe)
			}
		}
	})
	return out
}

// lowRank adds Σ_j coef[j]·us[j]·vs[j]ᵀ (us[j] of length rows, vs[j] of length cols) to
// the row-major rows×cols matrix out, j in order.
func lowRank(out []float64, rows, cols int, us, vs [][]float64, coef []float64, workers int) {
	parallelFor(rows, workers, func(r int) {
		row := out[r*cols : (r+1)*cols]
		for j, u := range us {
			a := float64(coef[j] * u[r])
			if a == 0 {
				continue
			}
			for c, ve := range vs[j] {
				row[c] += float64(a * ve)
			}
		}
	})
}

// parallelFor calls f(i) for i in [0, n) on up to workers goroutines; each i is
// independent, so the order does not matter.
func parallelFor(n, workers int, f func(i int)) {
	workers = max(1, min(workers, n))
	if workers == 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				f(i)
			}
		})
	}
	wg.Wait()
}
