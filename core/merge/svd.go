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
// one-sided Jacobi SVD (Hestenes), preconditioned by the eigenvectors of the Gram
// matrix (see svdOf), written out here with every product rounded explicitly (no
// fused multiply-add on any target), every sum in a fixed order (the matrix products
// of gemm.go, the eigensolver of eigen.go), a fixed rotation order (the round-robin
// schedule), and work split between workers only where the pieces are independent, so
// the result does not depend on the number of workers either. The tests check it
// against gonum's mat.SVD, the independent reference.

const (
	// svdDrop: components with σ ≤ svdDrop·σ_max are dropped (METHODS.md): their
	// singular vectors are arbitrary.
	svdDrop = 1e-6
	// jacobiMaxSweeps bounds the sweeps; one-sided Jacobi converges quadratically and
	// needs well under 20 in practice (two after the preconditioning).
	jacobiMaxSweeps = 60
)

// svd is A = U diag(S) Vᵀ for an m×n matrix, k = min(m, n) components sorted by
// descending σ (equal σ: by the order Jacobi left them). u[j] has m entries and v[j] n;
// u and v hold the kept components only, and of those the first `want` (svdOf's
// argument), which is all the methods use (nil beyond).
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
// σⱼ = ‖wⱼ‖, uⱼ = wⱼ/σⱼ. On a raw matrix it needs about ten sweeps, each n²/2 column
// pairs streamed through memory; so it starts instead from W₀ = A·V₀, V₀ the
// eigenvectors of the Gram matrix AᵀA (dotsInto, then symEigen): W₀'s columns are
// orthogonal already but for the rounding of the Gram matrix, which is what squares
// the condition number and spoils the small components. Jacobi then repairs exactly
// those in one or two sweeps (Drmač's preconditioning idea, with the eigensolver in
// place of a QR), and keeps its accuracy for small σ, which the polar factors need (they
// weight every kept component equally). The O(n³) steps are matrix products in
// dotsInto, fast and in a fixed order. V is not accumulated; it is recovered at the end
// for the kept components as vⱼ = Aᵀuⱼ/σⱼ, accurate to about ε·σ_max/σⱼ ≤ 1e-10 there.
//
// want (< 0: all) is how many leading components the caller uses: the others' singular
// values are computed, their vectors are not returned.
func svdOf(rows, cols int, at func(r, c int) float64, want, workers int) *svd {
	tall := rows >= cols
	m, n := rows, cols
	if !tall {
		m, n = cols, rows
	}
	el := func(i, j int) float64 { // element (i, j) of the m×n matrix A
		if tall {
			return at(i, j)
		}
		return at(j, i)
	}
	orig := make([][]float64, n) // A's columns
	for j := range orig {
		col := make([]float64, m)
		for i := range col {
			col[i] = el(i, j)
		}
		orig[j] = col
	}
	a := precondition(orig, m, workers)
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
	if want >= 0 {
		kept = min(kept, want)
	}
	for k := kept; k < n; k++ {
		left[k] = nil
	}
	// vₖ[c] = (A's column c)·uₖ / σₖ.
	prod := make([]float64, n*kept)
	dotsInto(prod, orig, left[:kept], m, false, workers)
	right := make([][]float64, n)
	for k := range kept {
		v := make([]float64, n)
		for c := range v {
			v[c] = prod[c*kept+k] / d.s[k]
		}
		right[k] = v
	}
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

// precondition returns the columns of A·V₀ (m×n, from A's n columns), V₀ the
// eigenvectors of AᵀA by descending eigenvalue.
func precondition(cols [][]float64, m, workers int) [][]float64 {
	n := len(cols)
	gram := make([]float64, n*n)
	dotsInto(gram, cols, cols, m, true, workers)
	_, v0 := symEigen(gram, n, workers)
	gram = nil
	// (A·V₀)[i][j] = (row i of A)·v₀ⱼ.
	rows := transpose(cols, m)
	prod := make([]float64, m*n)
	dotsInto(prod, rows, v0, n, false, workers)
	rows = nil
	w := make([][]float64, n)
	for j := range w {
		col := make([]float64, m)
		for i := range col {
			col[i] = prod[i*n+j]
		}
		w[j] = col
	}
	return w
}

// transpose returns the m rows of the matrix whose columns are cols (each of length m).
func transpose(cols [][]float64, m int) [][]float64 {
	rows := make([][]float64, m)
	flat := make([]float64, m*len(cols))
	for i := range rows {
		rows[i] = flat[i*len(cols) : (i+1)*len(cols)]
	}
	for j, col := range cols {
		for i, x := range col[:m] {
			rows[i][j] = x
		}
	}
	return rows
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
// of sweeps it made, the last of which found nothing to rotate.
//
// Each sweep starts from the Gram matrix of the columns (a fast product, dotsInto),
// which says which pairs are not yet orthogonal to tolerance; the sweep then runs the
// round-robin schedule over the columns of those pairs only (the active columns). A
// pair that no rotation of this sweep has touched takes its inner product from the
// Gram matrix instead of streaming both columns through memory. Pairs outside the
// active set that a rotation spoils are caught by the next sweep's Gram matrix, and
// the sweeps end when it finds none: the same test as a full cyclic sweep's, at the
// cost of one product for the columns rotated since (after preconditioning, a few).
func jacobi(a [][]float64, m, workers int) int {
	n := len(a)
	if n < 2 {
		return 0
	}
	tol := max(1e-15, float64(m)*0x1p-52)
	norms := make([]float64, n) // squared column norms, updated by each rotation
	// Columns whose norm is below 1e-9·‖A‖_F are numerically zero: they are not
	// rotated. Otherwise, in a rank-deficient matrix, columns of rounding noise would
	// keep rotating among themselves sweep after sweep without ever looking orthogonal
	// to a relative tolerance. Such columns end as components far below the drop
	// threshold (1e-9·‖A‖_F ≤ 1e-9·√n·σ_max), and skipping their rotation with a
	// large column perturbs that column by at most their norm.
	var negligible float64
	gram := make([]float64, n*n)
	touched := make([]bool, n)
	var dirty []int // columns rotated since gram was computed
	for sweep := 0; sweep < jacobiMaxSweeps; sweep++ {
		// Exact norms at the start of each sweep: the updates' rounding does not pile up.
		// Only the rows and columns of the Gram matrix that belong to columns rotated
		// in the last sweep are recomputed: every element is the same chain of the
		// same two columns, so this gives the bits of a full recomputation.
		if sweep == 0 {
			dotsInto(gram, a, a, m, true, workers)
		} else {
			xs := make([][]float64, len(dirty))
			for i, j := range dirty {
				xs[i] = a[j]
			}
			sub := make([]float64, len(dirty)*n)
			dotsInto(sub, xs, a, m, false, workers)
			for i, p := range dirty {
				for q := range n {
					gram[p*n+q], gram[q*n+p] = sub[i*n+q], sub[i*n+q]
				}
			}
		}
		total := 0.0
		for j := range norms {
			norms[j] = gram[j*n+j]
			touched[j] = false
			total += norms[j]
		}
		negligible = 1e-18 * total
		active := activeColumns(gram, norms, negligible, tol, workers)
		if len(active) == 0 {
			return sweep + 1
		}
		jacobiSweep(a, active, gram, norms, touched, negligible, tol, m, workers)
		dirty = dirty[:0]
		for j, t := range touched {
			if t {
				dirty = append(dirty, j)
			}
		}
	}
	return jacobiMaxSweeps
}

// activeColumns lists, ascending, the columns that belong to a pair the Gram matrix
// shows to be not orthogonal to tolerance (the test of rotate).
func activeColumns(gram, norms []float64, negligible, tol float64, workers int) []int {
	n := len(norms)
	roots := make([]float64, n)
	for j, x := range norms {
		roots[j] = math.Sqrt(x)
	}
	active := make([]bool, n)
	parallelFor(n, workers, func(p int) {
		if !(norms[p] > negligible) {
			return
		}
		row := gram[p*n : (p+1)*n]
		for q, g := range row {
			if q != p && norms[q] > negligible && g != 0 && math.Abs(g) > float64(tol*roots[p])*roots[q] {
				active[p] = true
				return
			}
		}
	})
	var out []int
	for j, x := range active {
		if x {
			out = append(out, j)
		}
	}
	return out
}

// jacobiSweep runs one cyclic sweep over the columns cols (indices into a): the
// round-robin (circle) schedule over an even number of players, in which every round
// pairs each column with another, each pair meets once, and the pairs of one round
// touch disjoint columns, so a round's rotations run in parallel without changing a
// bit. touched[j] is set for every column rotated.
func jacobiSweep(a [][]float64, cols []int, gram, norms []float64, touched []bool, negligible, tol float64, m, workers int) {
	n, c := len(a), len(cols)
	players := c + c%2
	rounds := players - 1
	pairs := players / 2
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
	if m*c < 1<<14 {
		workers = 1 // too small to be worth goroutines
	}
	doPairs := func(round, lo, hi int) {
		for k := lo; k < hi; k++ {
			i, j := pair(round, k)
			if j >= c {
				continue
			}
			p, q := cols[i], cols[j]
			if !(min(norms[p], norms[q]) > negligible) {
				continue
			}
			gamma := math.NaN()
			if !touched[p] && !touched[q] {
				gamma = gram[p*n+q]
			}
			if rotate(a[p], a[q], &norms[p], &norms[q], gamma, tol) {
				touched[p], touched[q] = true, true
			}
		}
	}
	for round := range rounds {
		if workers == 1 {
			doPairs(round, 0, pairs)
			continue
		}
		var wg sync.WaitGroup
		for w := range workers {
			lo, hi := w*pairs/workers, (w+1)*pairs/workers
			wg.Go(func() { doPairs(round, lo, hi) })
		}
		wg.Wait()
	}
}

// rotate makes columns x and y orthogonal by the Jacobi rotation that does it, given
// their squared norms (which it updates) and their inner product gamma (NaN: not
// known, computed here); it reports whether it rotated (false when they already are
// orthogonal, to tolerance tol relative to their norms).
func rotate(x, y []float64, nx, ny *float64, gamma, tol float64) bool {
	alpha, beta := *nx, *ny
	if alpha == 0 || beta == 0 {
		return false
	}
	if math.IsNaN(gamma) {
		gamma = dot(x, y)
	}
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
	d := svdOf(m, r, func(i, j int) float64 { return cols[j][i] }, -1, workers)
	kept := d.kept()
	if kept == 0 {
		return out
	}
	// X⊥[i][j] = Σ_l P[i][l]·Q[j][l], l over the kept components in order.
	prod := make([]float64, m*r)
	dotsInto(prod, transpose(d.u[:kept], m), transpose(d.v[:kept], r), kept, false, workers)
	for j, o := range out {
		for i := range o {
			o[i] = prod[i*r+j]
		}
	}
	return out
}

// lowRank returns the row-major rows×cols matrix Σ_j coef[j]·us[j]·vs[j]ᵀ (us[j] of
// length rows, vs[j] of length cols), each element summed over j in order.
func lowRank(rows, cols int, us, vs [][]float64, coef []float64, workers int) []float64 {
	out := make([]float64, rows*cols)
	if len(us) == 0 {
		return out
	}
	scaled := make([][]float64, len(us))
	for j, u := range us {
		scaled[j] = make([]float64, rows)
		for r, x := range u {
			scaled[j][r] = float64(coef[j] * x)
		}
	}
	dotsInto(out, transpose(scaled, rows), transpose(vs, cols), len(us), false, workers)
	return out
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
