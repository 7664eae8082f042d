package merge

import (
	"math"
	"slices"
)

// symEigen is the symmetric eigensolver behind the SVD's preconditioner (svd.go):
// G = V diag(λ) Vᵀ for the n×n symmetric row-major g (overwritten), λ descending
// (ties: by index), V's columns returned as vectors.
//
// Householder tridiagonalisation, implicit QL with Wilkinson-type shifts on the
// tridiagonal matrix, and the reflectors applied back to its eigenvectors: the textbook
// algorithm (Golub & Van Loan 8.3), written out, like the Jacobi SVD, with every product
// rounded on its own and every sum in a fixed order, so that its bits are the same on
// every target and for any worker count (only independent rows or columns are split
// between workers). gonum's EigenSym would not be: its BLAS sums differently on amd64.
// V is orthogonal to working precision whatever the conditioning; the eigenvectors of
// tiny or clustered eigenvalues may be poor, which the Jacobi pass that follows repairs.
func symEigen(g []float64, n, workers int) ([]float64, [][]float64) {
	d, e, refl, taus := tridiagonalise(g, n, workers)
	z := make([][]float64, n)
	for j := range z {
		z[j] = make([]float64, n)
		z[j][j] = 1
	}
	tridiagonalQL(d, e, z, workers)
	backTransform(z, refl, taus, workers)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		switch {
		case d[x] > d[y]:
			return -1
		case d[x] < d[y]:
			return 1
		}
		return 0
	})
	vals, vecs := make([]float64, n), make([][]float64, n)
	for k, j := range order {
		vals[k], vecs[k] = d[j], z[j]
	}
	return vals, vecs
}

// reflectorBlock is how many Householder reflectors backTransform applies at once.
const reflectorBlock = 32

// backTransform replaces the columns z by H₀ H₁ ⋯ H_{n−3} Z. The reflectors go in
// blocks of reflectorBlock, each block's product written I − V T Vᵀ (the compact WY
// form, Schreiber & Van Loan; T upper triangular), so that applying it is two matrix
// products (dotsInto) instead of a pass over Z per reflector: Z ← Z − V (T (Vᵀ Z)).
func backTransform(z [][]float64, refl [][]float64, taus []float64, workers int) {
	if len(refl) == 0 {
		return
	}
	n := len(z)
	buf := make([]float64, n*n)
	for b0 := (len(refl) - 1) / reflectorBlock * reflectorBlock; b0 >= 0; b0 -= reflectorBlock {
		b1 := min(b0+reflectorBlock, len(refl))
		nb := b1 - b0
		// The block acts on indices lo = b0 + 1 … n − 1; its reflectors as vectors
		// over those indices (reflector k is zero above its own start k + 1).
		lo := b0 + 1
		vs := make([][]float64, nb)
		for a := range nb {
			v := make([]float64, n-lo)
			copy(v[a:], refl[b0+a])
			vs[a] = v
		}
		// T: T[a][a] = τ_a, T[0:a, a] = −τ_a T[0:a, 0:a] (V[:, 0:a]ᵀ v_a).
		t := make([]float64, nb*nb)
		for a := range nb {
			tau := taus[b0+a]
			t[a*nb+a] = tau
			if tau == 0 {
				continue
			}
			y := make([]float64, a)
			for c := range a {
				y[c] = float64(-tau * dot(vs[c], vs[a]))
			}
			for r := range a {
				s := 0.0
				for c := r; c < a; c++ {
					s += float64(t[r*nb+c] * y[c])
				}
				t[r*nb+a] = s
			}
		}
		// M = Vᵀ Z (nb × n), then M ← T M.
		zs := make([][]float64, n)
		for j, col := range z {
			zs[j] = col[lo:]
		}
		m := make([]float64, nb*n)
		dotsInto(m, vs, zs, n-lo, false, workers)
		tm := make([]float64, nb*n)
		parallelFor(n, workers, func(j int) {
			for r := range nb {
				s := 0.0
				for c := r; c < nb; c++ {
					s += float64(t[r*nb+c] * m[c*n+j])
				}
				tm[r*n+j] = s
			}
		})
		// Z ← Z − V M: element (i, j) is (row i of V)·(column j of M).
		mcols := transpose(rowSlices(tm, nb, n), n)
		vrows := transpose(vs, n-lo)
		prod := buf[:(n-lo)*n]
		dotsInto(prod, vrows, mcols, nb, false, workers)
		parallelFor(n, workers, func(j int) {
			col := z[j][lo:]
			for i := range col {
				col[i] -= prod[i*n+j]
			}
		})
	}
}

// tridiagonalise reduces the symmetric row-major g to T = Qᵀ G Q, tridiagonal with
// diagonal d and off-diagonal e (e[k] = T[k][k+1], e[n−1] = 0), Q = H₀ ⋯ H_{n−3},
// H_k = I − τ_k v_k v_kᵀ acting on indices k+1 … n−1 (v_k[0] = 1). g is overwritten.
//
// Step k replaces the trailing block B = G[k+1:, k+1:] by H_k B H_k = B − v wᵀ − w vᵀ
// (p = τ B v, w = p − (τ/2)(pᵀv) v). The product B v of step k + 1 is computed row by
// row in the same pass as step k's update of that row (row k + 1, which defines
// v_{k+1}, is updated first): each step then streams the block, too large for the
// cache, once instead of twice.
func tridiagonalise(g []float64, n, workers int) (d, e []float64, refl [][]float64, taus []float64) {
	d, e = make([]float64, n), make([]float64, n)
	row := func(i int) []float64 { return g[i*n : (i+1)*n] }
	if n < 3 {
		if n == 2 {
			d[0], d[1], e[0] = g[0], g[3], g[1]
		} else if n == 1 {
			d[0] = g[0]
		}
		return d, e, nil, nil
	}
	// reflector makes v, τ and e[k] from row k (already final).
	reflector := func(k int) ([]float64, float64) {
		x := row(k)[k+1:]
		d[k] = row(k)[k]
		alpha := x[0]
		xnorm := math.Sqrt(chain(0, x[1:], x[1:]))
		v := make([]float64, len(x))
		v[0] = 1
		if xnorm == 0 {
			e[k] = alpha // already tridiagonal in this column: H_k = I
			return v, 0
		}
		beta := -math.Copysign(hypot(alpha, xnorm), alpha)
		scale := 1 / (alpha - beta)
		for i := 1; i < len(x); i++ {
			v[i] = float64(x[i] * scale)
		}
		e[k] = beta
		return v, (beta - alpha) / beta
	}
	// update applies step k's (v, w) to row i of its block (i ≥ k + 1).
	update := func(k, i int, v, w []float64) {
		r := row(i)[k+1:]
		r = r[:len(v)]
		vi, wi := v[i-k-1], w[i-k-1]
		for j, ve := range v {
			r[j] -= float64(vi*w[j]) + float64(wi*ve)
		}
	}
	p, wbuf := make([]float64, n), make([]float64, n)
	v, tau := reflector(0)
	parallelFor(n-1, workers, func(i int) { p[1+i] = dot(row(1 + i)[1:], v) })
	for k := 0; k+2 < n; k++ {
		lo := k + 1
		pp := p[lo:]
		// w = τ·(B v) − (τ/2)(pᵀv) v, with pp holding B v. (w gets its own buffer: the
		// pass below overwrites p with the next step's B v while reading w.)
		for i := range pp {
			pp[i] = float64(tau * pp[i])
		}
		half := float64(float64(tau*0.5) * dot(pp, v))
		w := wbuf[:len(v)]
		for i, ve := range v {
			w[i] = pp[i] - float64(half*ve)
		}
		if tau != 0 {
			update(k, lo, v, w)
		}
		refl, taus = append(refl, v), append(taus, tau)
		if k+3 >= n {
			// The last step: its block's remaining rows need the update only.
			if tau != 0 {
				for i := lo + 1; i < n; i++ {
					update(k, i, v, w)
				}
			}
			break
		}
		next, nextTau := reflector(lo)
		parallelFor(n-lo-1, workers, func(j int) {
			i := lo + 1 + j
			if tau != 0 {
				update(k, i, v, w)
			}
			p[i] = dot(row(i)[lo+1:], next)
		})
		v, tau = next, nextTau
	}
	d[n-2], e[n-2] = row(n - 2)[n-2], row(n - 2)[n-1]
	d[n-1] = row(n - 1)[n-1]
	return d, e, refl, taus
}

// tridiagonalQL diagonalises the symmetric tridiagonal (d, e) in place by implicit QL
// iterations (d ends as the eigenvalues, e as zeros), applying every plane rotation to
// the columns z (which start as the identity and end as the eigenvectors). The
// rotations depend on d and e only, so they are recorded and applied to z in batches
// of iterations: each row of z still sees every rotation in order (the same bits), but
// z, too large for the cache at n in the thousands, is streamed once per batch
// instead of once per iteration.
func tridiagonalQL(d, e []float64, z [][]float64, workers int) {
	n := len(d)
	b := &qlBatch{z: z, workers: workers}
	// An off-diagonal element counts as zero below ε‖T‖ (EISPACK's tql2 test, against
	// the whole matrix): the backward error of the reduction is that large anyway, and
	// a test relative to the neighbouring diagonal elements alone makes the QL
	// iterations grind through the eigenvalues at rounding level, which a
	// rank-deficient Gram matrix has by the hundred.
	norm := 0.0
	for i := range d {
		norm = max(norm, math.Abs(d[i])+math.Abs(e[i]))
	}
	small := 0x1p-52 * norm
	for l := 0; l < n; l++ {
		for iter := 0; ; iter++ {
			m := l
			for ; m+1 < n; m++ {
				if math.Abs(e[m]) <= small {
					break
				}
			}
			if m == l || iter == 60 {
				// 60: never reached in practice (one or two iterations per eigenvalue);
				// the Jacobi pass after would repair an unconverged pair anyway.
				break
			}
			g := (d[l+1] - d[l]) / (2 * e[l])
			r := hypot(g, 1)
			g = d[m] - d[l] + e[l]/(g+math.Copysign(r, g))
			s, c, p := 1.0, 1.0, 0.0
			b.begin(m)
			i := m - 1
			for ; i >= l; i-- {
				f, bb := float64(s*e[i]), float64(c*e[i])
				r = hypot(f, g)
				e[i+1] = r
				if r == 0 {
					d[i+1] -= p
					e[m] = 0
					break
				}
				s, c = f/r, g/r
				g = d[i+1] - p
				r = float64((d[i]-g)*s) + float64(2*float64(c*bb))
				p = float64(s * r)
				d[i+1] = g + p
				g = float64(c*r) - bb
				b.cs = append(b.cs, c, s)
			}
			b.end()
			if r == 0 && i >= l {
				continue
			}
			d[l] -= p
			e[l] = g
			e[m] = 0
		}
	}
	b.flush()
}

// qlBatch holds QL iterations' rotations not yet applied to z: iteration t's
// rotations are cs[2·start[t]:2·start[t+1]], the u-th of them acting on columns
// (top[t]−1−u, top[t]−u).
type qlBatch struct {
	z       [][]float64
	workers int
	cs      []float64
	start   []int
	top     []int
}

func (b *qlBatch) begin(m int) {
	b.top = append(b.top, m)
	b.start = append(b.start, len(b.cs)/2)
}

// end closes an iteration; the batch is applied once it holds about 4n rotations.
func (b *qlBatch) end() {
	if len(b.cs)/2 >= 4*len(b.z) {
		b.flush()
	}
}

func (b *qlBatch) flush() {
	if len(b.cs) == 0 {
		b.top, b.start = b.top[:0], b.start[:0]
		return
	}
	n := len(b.z[0])
	// Rows per chunk: the chunks of all columns of z take about 2 MiB (measured best at
	// n = 2048 among 128 KiB to 8 MiB: short rows cost loop overhead, long ones cache).
	chunk := max(8, min(256, (1<<18)/len(b.z)))
	b.start = append(b.start, len(b.cs)/2)
	parallelFor((n+chunk-1)/chunk, b.workers, func(ci int) {
		lo, hi := ci*chunk, min((ci+1)*chunk, n)
		for t, m := range b.top {
			for u := b.start[t]; u < b.start[t+1]; u++ {
				c, s := b.cs[2*u], b.cs[2*u+1]
				col := m - (u - b.start[t])
				x, y := b.z[col-1][lo:hi], b.z[col][lo:hi]
				y = y[:len(x)]
				for k, xe := range x {
					f := y[k]
					y[k] = float64(s*xe) + float64(c*f)
					x[k] = float64(c*xe) - float64(s*f)
				}
			}
		}
	})
	b.cs, b.top, b.start = b.cs[:0], b.top[:0], b.start[:0]
}

// hypot is √(a² + b²) without needless overflow or underflow, rounded the same way on
// every target (math.Hypot's 1 + q·q may be fused into one multiply-add on some).
func hypot(a, b float64) float64 {
	a, b = math.Abs(a), math.Abs(b)
	if a < b {
		a, b = b, a
	}
	if a == 0 {
		return 0
	}
	q := b / a
	return float64(a * math.Sqrt(1+float64(q*q)))
}
