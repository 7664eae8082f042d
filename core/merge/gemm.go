package merge

// dotsInto is the matrix product every O(n³) step of the SVD methods reduces to: the
// Gram matrix AᵀA, A·V, Aᵀ·U, the polar factor P·Qᵀ and the final low-rank sum.
//
// Every element is one chain of additions in ascending k, each product rounded on its
// own (no fused multiply-add on any target): out[p·len(ys)+q] is exactly
// ((0 + x₀y₀) + x₁y₁) + … for x = xs[p], y = ys[q]. The blocking below only decides
// when each element's chain advances, never its order, so the bits do not depend on
// the block sizes, the worker count or the target. Speed comes from a 3×2 register
// tile (six independent chains, each x and y loaded once per k) and from k blocks that
// keep a block of xs in cache while the ys stream past. The tile is the largest that
// Go's register allocator keeps in the 16 SSE registers: measured on one core, 10
// Gflop/s against 4.8 for a 4×2 tile, whose spills cost half the speed.

const (
	gemmKBlock = 256 // k elements per block: a block of xs (63 × 2 KiB) stays in L2
	gemmPBlock = 63  // xs per block (a multiple of the tile's 3)
	gemmQBlock = 256 // ys per block (even, for the tile's 2)
)

// dotsInto sets out[p·len(ys)+q] = Σ_k xs[p][k]·ys[q][k] (every vector of length kn),
// out row-major len(xs) × len(ys). With symmetric (xs and ys the same vectors) it
// computes q ≥ p and mirrors the rest.
func dotsInto(out []float64, xs, ys [][]float64, kn int, symmetric bool, workers int) {
	np, nq := len(xs), len(ys)
	out = out[:np*nq]
	clear(out)
	if np == 0 || nq == 0 {
		return
	}
	// Tasks are rectangles of out, gemmPBlock rows by gemmQBlock columns, dealt
	// round-robin to the workers: short wide products (a few xs against many ys)
	// still use every worker.
	pBlocks, qBlocks := (np+gemmPBlock-1)/gemmPBlock, (nq+gemmQBlock-1)/gemmQBlock
	type task struct{ p0, p1, q0, q1 int }
	var tasks []task
	for b := range pBlocks {
		p0, p1 := b*gemmPBlock, min((b+1)*gemmPBlock, np)
		for c := range qBlocks {
			q0, q1 := c*gemmQBlock, min((c+1)*gemmQBlock, nq)
			if symmetric {
				// Columns below p0 are mirrored at the end.
				if q1 <= p0 {
					continue
				}
				q0 = max(q0, p0)
			}
			tasks = append(tasks, task{p0, p1, q0, q1})
		}
	}
	parallelFor(len(tasks), workers, func(i int) {
		t := tasks[i]
		for k0 := 0; k0 < kn; k0 += gemmKBlock {
			k1 := min(k0+gemmKBlock, kn)
			for q := t.q0; q < t.q1; q += 2 {
				if q+2 > t.q1 {
					for p := t.p0; p < t.p1; p++ {
						out[p*nq+q] = chain(out[p*nq+q], xs[p][k0:k1], ys[q][k0:k1])
					}
					continue
				}
				y0, y1 := ys[q][k0:k1], ys[q+1][k0:k1]
				p := t.p0
				for ; p+3 <= t.p1; p += 3 {
					tile32(out, nq, p, q, xs[p][k0:k1], xs[p+1][k0:k1], xs[p+2][k0:k1], y0, y1)
				}
				for ; p < t.p1; p++ {
					out[p*nq+q] = chain(out[p*nq+q], xs[p][k0:k1], y0)
					out[p*nq+q+1] = chain(out[p*nq+q+1], xs[p][k0:k1], y1)
				}
			}
		}
	})
	if symmetric {
		// Row p was computed from its block's start on; the element chains of (p, q)
		// and (q, p) are the same products in the same order, so copying is exact.
		parallelFor(np, workers, func(p int) {
			for q := range p - p%gemmPBlock {
				out[p*nq+q] = out[q*nq+p]
			}
		})
	}
}

// chain continues s + Σ x[k]·y[k] in ascending k, each product rounded.
func chain(s float64, x, y []float64) float64 {
	y = y[:len(x)]
	for k, xe := range x {
		s += float64(xe * y[k])
	}
	return s
}

// tile32 advances the chains of out's elements (p..p+2, q..q+1) over one k block.
func tile32(out []float64, nq, p, q int, x0, x1, x2, y0, y1 []float64) {
	n := len(x0)
	x1, x2, y0, y1 = x1[:n], x2[:n], y0[:n], y1[:n]
	r0, r1, r2 := out[p*nq+q:p*nq+q+2], out[(p+1)*nq+q:(p+1)*nq+q+2], out[(p+2)*nq+q:(p+2)*nq+q+2]
	s00, s01 := r0[0], r0[1]
	s10, s11 := r1[0], r1[1]
	s20, s21 := r2[0], r2[1]
	for k := 0; k < n; k++ {
		a, b := y0[k], y1[k]
		x := x0[k]
		s00 += float64(x * a)
		s01 += float64(x * b)
		x = x1[k]
		s10 += float64(x * a)
		s11 += float64(x * b)
		x = x2[k]
		s20 += float64(x * a)
		s21 += float64(x * b)
	}
	r0[0], r0[1] = s00, s01
	r1[0], r1[1] = s10, s11
	r2[0], r2[1] = s20, s21
}
