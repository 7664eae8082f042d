package merge

import (
	"math"

	"ladle/core/compute"
	"ladle/core/tensor"
)

// The task-arithmetic family (mergekit's "generalized task arithmetic") shares one
// driver: each model's task vector δᵢ = θᵢ − θ0 (rounded to float32, as a float32 task
// vector is) is sparsified, then the sparsified deltas are combined either by a plain
// weighted sum or by TIES' sign consensus, and θ = θ0 + λ·mixed.

type sparsifier int

const (
	spNone      sparsifier = iota // task_arithmetic: δ as is
	spMagnitude                   // ties: keep the k = floor(density·n) largest |δ|
	spRandom                      // dare: keep with probability density, rescale
	spBand                        // breadcrumbs: drop the top gamma, keep the next density
	spDella                       // della: per-row rank-dependent keep probability
)

type consensus int

const (
	consSum  consensus = iota // Σ wᵢδᵢ (÷ Σ wᵢ when normalize)
	consTies                  // TIES steps 2 to 6
)

type rescaleKind int

const (
	rescaleNone rescaleKind = iota
	rescaleDiv              // kept δ / float32(density): the paper's rescale
	rescaleMul              // kept float32(δ·factor): the L1-matching rescale
)

// gtaModel is one model's sparsifier state for one tensor; every field is fixed before
// the element-wise pass, so chunks can run in any order.
type gtaModel struct {
	x       []float32
	all     bool         // nothing is dropped: the sparsified delta is δ
	keep    tensor.Bound // spMagnitude, spBand
	drop    tensor.Bound // spBand: the top n_top
	rng     tensor.RNG
	density float64 // spRandom, spDella
	eps     float64 // spDella
	rescale rescaleKind
	div     float32
	factor  float64
}

// mergeGTA is the whole family's Merge.
func mergeGTA(j *Job, out []float32, sp sparsifier, cons consensus) error {
	n := len(out)
	base := j.Base
	ws, sumW := j.weights()
	lam := j.float("lambda")
	normalize := j.boolean("normalize")
	rows, rowLen := tensor.Rows(j.Shape, int64(n))
	if j.Shape == nil {
		rows, rowLen = 1, int64(n)
	}
	if n == 0 || rows == 0 {
		return nil
	}
	ms := make([]gtaModel, len(j.Models))
	for i := range ms {
		g := &ms[i]
		g.x = j.Models[i]
		switch sp {
		case spNone:
			g.all = true
		case spRandom:
			g.density = j.modelFloat(i, "density")
			g.all = g.density >= 1
			g.rng = tensor.NewRNG(j.Seed, j.modelID(i), j.Tensor)
			if g.density > 0 && g.density < minDareDensity {
				return j.errorf("%s: density %v is so small that rescaled entries overflow float32; use density 0 to drop everything, or at least %v", j.modelName(i), g.density, minDareDensity)
			}
			if j.boolean("rescale") && g.density > 0 { // density 0 drops everything: nothing to rescale
				g.rescale = rescaleDiv
				g.div = float32(g.density)
				if j.Options.RescaleMode == RescaleL1 {
					g.rescale = rescaleMul
				}
			}
		case spDella:
			g.density = j.modelFloat(i, "density")
			g.eps = j.modelFloat(i, "epsilon")
			if !(g.density-g.eps > 0 && g.density+g.eps < 1) {
				return j.errorf("%s: density ± epsilon = [%v, %v] must lie inside (0, 1) so every keep probability is a probability; lower epsilon or move density away from 0 and 1", j.modelName(i), g.density-g.eps, g.density+g.eps)
			}
			if rowLen > tensor.MaxRankLen {
				return j.errorf("rows of %d elements are too long to rank (at most %d)", rowLen, int64(tensor.MaxRankLen))
			}
			g.rng = tensor.NewRNG(j.Seed, j.modelID(i), j.Tensor)
		}
	}
	// Model-wide facts (trim thresholds, L1 norms) need a scan of each model: one
	// model per worker.
	err := parallelChunks(len(ms), 1, j.Workers, func(_, i, _ int) {
		g := &ms[i]
		x := g.x
		switch sp {
		case spMagnitude:
			var cut tensor.Cut
			if j.Options.TrimScope == TrimModel {
				cut = j.Cuts[i]
			} else {
				cut = tensor.TopCutsUsing(j.histFunc(), x, base, floorCount(j.modelFloat(i, "density"), n))[0]
			}
			g.all = cut == tensor.CutAll
			g.keep = cut.Bound(x, base)
		case spBand:
			nKeep := floorCount(j.modelFloat(i, "density"), n)
			nTop := floorCount(j.modelFloat(i, "gamma"), n)
			if nTop+nKeep > int64(n) {
				nTop = int64(n) - nKeep // overlap: n_top shrinks first
			}
			cuts := tensor.TopCutsUsing(j.histFunc(), x, base, nTop+nKeep, nTop)
			g.all = cuts[0] == tensor.CutAll && cuts[1] == tensor.CutNone
			g.keep = cuts[0].Bound(x, base)
			g.drop = cuts[1].Bound(x, base)
		case spRandom:
			if g.rescale == rescaleMul && !g.all {
				full, kept := l1Norms(g, base)
				g.factor = 1
				if kept > 1e-7 { // as mergekit: an (almost) empty mask is left unscaled
					g.factor = full / kept
				}
			}
		}
	})
	if err != nil {
		return j.errorf("%v", err)
	}
	if w, ok := equalPowerOfTwo(ws); ok && sp == spMagnitude && cons == consTies && j.Compute != nil {
		if tiesOnBackend(j, out, ms, ws, w, lam, normalize, int(rowLen)) {
			return nil
		}
	}
	den := 1.0
	if normalize && cons == consSum && math.Abs(sumW) >= 1e-8 {
		den = sumW // |Σw| < 1e-8 counts as 1
	}
	if w, ok := equalPowerOfTwo(ws); ok && sp == spNone && cons == consSum && j.Compute != nil {
		if taskOnBackend(j, out, w, lam, den) {
			return nil
		}
	}
	chunk := 0
	if sp == spDella {
		chunk = int(max(1, chunkLen/rowLen) * rowLen) // whole rows
	}
	return j.run(out, chunk, func(s *scratch, lo, hi int) {
		m := hi - lo
		ds := s.slices(len(ms))
		for i := range ms {
			ds[i] = s.float32s(i, m)
			sparsify(&ms[i], sp, base, lo, hi, int(rowLen), ds[i], s)
		}
		b := base[lo:hi]
		o := out[lo:hi]
		if cons == consSum {
			acc := s.float64s(0, m)
			weightedSum(acc, ds, ws, 0, m)
			for c, a := range acc {
				o[c] = float32(float64(b[c]) + float64(lam*(a/den)))
			}
			return
		}
		tiesCombine(o, b, ds, ws, lam, normalize, s.float64s(1, 2*m), s.float64s(0, m))
	})
}

// tiesBlock is how many elements tiesOnBackend hands the backend at a time (its
// float64 sums and counts take 12 bytes an element).
const tiesBlock = 1 << 20

// tiesOnBackend runs TIES' sign election and disjoint sums on j.Compute a block at a
// time, for models all weighted w, a power of two (equalPowerOfTwo): the backend sums
// the plain deltas, and w·sum and w·count are exactly tiesCombine's weighted sums
// (whose signs, for w > 0, are the plain sums'). It finishes each element as
// tiesCombine does: the division by the agreeing weight and θ0 + λ·mixed, in float64.
// Elements the backend flags, and blocks it declines after the first, are computed
// by the CPU path. It returns false, having written nothing, when the backend
// declines the first block.
func tiesOnBackend(j *Job, out []float32, ms []gtaModel, ws []float64, w, lam float64, normalize bool, rowLen int) bool {
	n, base := len(out), j.Base
	block := min(n, tiesBlock)
	mixed, count := make([]float64, block), make([]uint32, block)
	keep := make([]tensor.Bound, len(ms))
	for i := range ms {
		keep[i] = ms[i].keep
		if ms[i].all {
			keep[i] = tensor.Bound{Key: 0, Last: math.MaxInt64}
		}
	}
	xs := make([][]float32, len(ms))
	var s scratch
	cpu := func(lo, hi int) {
		m := hi - lo
		ds := s.slices(len(ms))
		for i := range ms {
			ds[i] = s.float32s(i, m)
			sparsify(&ms[i], spMagnitude, base, lo, hi, rowLen, ds[i], &s)
		}
		tiesCombine(out[lo:hi], base[lo:hi], ds, ws, lam, normalize, s.float64s(1, 2*m), s.float64s(0, m))
	}
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		for i := range ms {
			xs[i] = ms[i].x[lo:hi]
		}
		if !j.Compute.TiesSums(mixed[:hi-lo], count[:hi-lo], xs, base[lo:hi], keep, lo) {
			if lo == 0 {
				return false
			}
			cpu(lo, hi) // the device went away mid-tensor
			continue
		}
		for c := lo; c < hi; c++ {
			k := count[c-lo]
			if k == compute.TiesFlag {
				cpu(c, c+1)
				continue
			}
			mx := mixed[c-lo] * w
			if normalize {
				dv := float64(k) * w
				if dv == 0 {
					dv = 1
				}
				mx /= dv
			}
			out[c] = float32(float64(base[c]) + float64(lam*mx))
		}
	}
	return true
}

// taskOnBackend computes task arithmetic's Σδᵢ on j.Compute a block at a time, for
// models all weighted w, a power of two (equalPowerOfTwo, so w·Σδᵢ is exactly the
// CPU's Σ w·δᵢ), and finishes each element as mergeGTA does, θ0 + λ·(w·Σδ/den) in
// float64; elements the backend flags, and blocks it declines after the first, are
// summed on the CPU. It returns false, having written nothing, when the backend
// declines the first block. (A zero sum's sign cannot show: δ = −0 needs a base of
// +0, and +0 + ±0 is +0.)
func taskOnBackend(j *Job, out []float32, w, lam, den float64) bool {
	n, base, models := len(out), j.Base, j.Models
	block := min(n, tiesBlock)
	sum, count := make([]float64, block), make([]uint32, block)
	keep := make([]tensor.Bound, len(models))
	for i := range keep {
		keep[i] = tensor.Bound{Key: 0, Last: math.MaxInt64}
	}
	xs := make([][]float32, len(models))
	cpu := func(c int) float64 {
		a := float64(models[0][c] - base[c])
		for _, x := range models[1:] {
			a += float64(x[c] - base[c])
		}
		return a
	}
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		for i, x := range models {
			xs[i] = x[lo:hi]
		}
		onBackend := j.Compute.TaskSums(sum[:hi-lo], count[:hi-lo], xs, base[lo:hi], keep, lo)
		if !onBackend && lo == 0 {
			return false
		}
		for c := lo; c < hi; c++ {
			a := sum[c-lo]
			if !onBackend || count[c-lo] == compute.TiesFlag {
				a = cpu(c)
			}
			a *= w
			out[c] = float32(float64(base[c]) + float64(lam*(a/den)))
		}
	}
	return true
}

// floorCount is floor(frac·n) computed in float64, as mergekit's int(n * density).
func floorCount(frac float64, n int) int64 {
	return max(0, min(int64(math.Floor(frac*float64(n))), int64(n)))
}

// sparsify writes model g's sparsified delta for elements [lo, hi) into d. A dropped
// element becomes δ·0: +0 or −0 for a finite δ, but NaN for a non-finite one, so that a
// NaN or Inf in an input is never silently dropped and the non-finite check reports it.
func sparsify(g *gtaModel, sp sparsifier, base []float32, lo, hi, rowLen int, d []float32, s *scratch) {
	x, b := g.x[lo:hi], base[lo:hi]
	d = d[:len(x)]
	if g.all {
		for c := range d {
			d[c] = x[c] - b[c]
		}
		return
	}
	switch sp {
	case spMagnitude:
		// Branch-free: kept entries are v·1, dropped ones v·0 (a random mask would
		// mispredict a branch on a large share of the entries).
		key, last := g.keep.Key, g.keep.Last-int64(lo)
		for c := range d {
			v := x[c] - b[c]
			k := tensor.AbsKey(v)
			keep := b2u(k > key) | (b2u(k == key) & b2u(int64(c) <= last))
			d[c] = v * math.Float32frombits(keep*one32)
		}
	case spBand:
		key, last := g.keep.Key, g.keep.Last-int64(lo)
		dkey, dlast := g.drop.Key, g.drop.Last-int64(lo)
		for c := range d {
			v := x[c] - b[c]
			k := tensor.AbsKey(v)
			keep := b2u(k > key) | (b2u(k == key) & b2u(int64(c) <= last))
			drop := b2u(k > dkey) | (b2u(k == dkey) & b2u(int64(c) <= dlast))
			d[c] = v * math.Float32frombits((keep&^drop)*one32)
		}
	case spRandom:
		// Branch-free as above: the kept value is computed for every entry and
		// multiplied by 1 (kept) or 0 (dropped).
		rng, dens := g.rng, g.density
		switch g.rescale {
		case rescaleDiv:
			div := g.div
			for c := range d {
				keep := b2u(rng.Float64(int64(lo+c)) < dens)
				d[c] = ((x[c] - b[c]) / div) * math.Float32frombits(keep*one32)
			}
		case rescaleMul:
			f := g.factor
			for c := range d {
				keep := b2u(rng.Float64(int64(lo+c)) < dens)
				d[c] = float32(float64(x[c]-b[c])*f) * math.Float32frombits(keep*one32)
			}
		default:
			for c := range d {
				keep := b2u(rng.Float64(int64(lo+c)) < dens)
				d[c] = (x[c] - b[c]) * math.Float32frombits(keep*one32)
			}
		}
	case spDella:
		for rs := lo; rs < hi; rs += rowLen {
			xr, br := g.x[rs:rs+rowLen], base[rs:rs+rowLen]
			dr := d[rs-lo : rs-lo+rowLen]
			order := s.uint32s(rowLen)
			s.rk.Order(xr, br, order)
			lowP := g.density - g.eps
			step := 0.0
			if rowLen > 1 {
				step = 2 * g.eps / float64(rowLen-1)
			}
			for r, e := range order {
				v := xr[e] - br[e]
				p := g.density // a row of one element
				if rowLen > 1 {
					// p = density − ε + 2ε(r−1)/(n−1) for the 1-based rank r, evaluated
					// exactly as (density − ε) + (2ε/(n−1))·(r−1) in float64 (r here
					// is 0-based); the conversion keeps the product from fusing.
					p = lowP + float64(step*float64(r))
				}
				if g.rng.Float64(int64(rs)+int64(e)) < p {
					dr[e] = v / float32(p)
				} else {
					dr[e] = v * 0
				}
			}
		}
	}
}

// tiesCombine is TIES steps 2 to 6 for one chunk: uᵢ = wᵢ·δᵢ, elected sign
// s = +1 if Σuᵢ ≥ 0 else −1, mixed = Σ uᵢ over the entries whose sign is s (and that are
// not 0), divided by Σ wᵢ over those entries when normalize (a divisor of 0 counts as 1),
// θ = θ0 + λ·mixed. acc is scratch of 2·len(out).
//
// The agreement test is done on bits, without branches: with dense deltas the signs
// are random and a branch would mispredict on half the entries. An entry that does not
// agree adds +0 to mixed and div, which leaves both sums exactly as if it had been
// skipped. acc interleaves (Σu, elected sign) and then (mixed, div) per element: separate
// page-aligned arrays indexed alike made loads alias earlier stores (4K aliasing) and
// ran at half speed.
func tiesCombine(out, base []float32, ds [][]float32, ws []float64, lam float64, normalize bool, acc []float64, sum []float64) {
	n := len(out)
	base, sum = base[:n], sum[:n]
	clear(sum)
	for i, d := range ds {
		w := ws[i]
		d = d[:n]
		for c, v := range d {
			sum[c] += float64(w * float64(v))
		}
	}
	acc = acc[:2*n]
	clear(acc)
	for i, d := range ds {
		w := ws[i]
		wb := math.Float64bits(w)
		d = d[:n]
		for c, v := range d {
			ub := math.Float64bits(float64(w * float64(v)))
			nz := ub << 1
			// keep: u ≠ 0 and u's sign is the elected one (negative only for Σu < 0; a
			// NaN vote elects +, and is reported below anyway).
			keep := ((nz | -nz) >> 63) &^ ((ub >> 63) ^ b2u64(sum[c] < 0))
			m := -keep // all ones or zero
			a := acc[2*c : 2*c+2 : 2*c+2]
			a[0] += math.Float64frombits(ub & m)
			a[1] += math.Float64frombits(wb & m)
		}
	}
	for c := range out {
		mx := acc[2*c]
		if normalize {
			dv := acc[2*c+1]
			if dv == 0 {
				dv = 1
			}
			mx /= dv
		}
		if sum[c] != sum[c] {
			mx = sum[c] // a NaN vote: keep it visible rather than electing a sign from it
		}
		out[c] = float32(float64(base[c]) + float64(lam*mx))
	}
}

func b2u64(b bool) uint64 {
	var x uint64
	if b {
		x = 1
	}
	return x
}

// minDareDensity keeps 1/density finite in float32 for any delta of a sensible scale
// (and float32(density) a normal number).
const minDareDensity = 1e-30

// one32 is the bit pattern of float32(1): keep*one32 is 1.0 for keep = 1, +0 for 0.
const one32 = 0x3f800000

// b2u is 1 for true, 0 for false; the compiler turns it into a flag set, not a branch.
func b2u(b bool) uint32 {
	var x uint32
	if b {
		x = 1
	}
	return x
}

// l1Norms returns Σ|δ| and Σ|δ| over the entries DARE keeps, in the fixed block order of
// package tensor (so the rescale factor does not depend on the worker count).
func l1Norms(g *gtaModel, base []float32) (full, kept float64) {
	x := g.x
	for lo := 0; lo < len(x); lo += tensor.Block {
		hi := min(lo+tensor.Block, len(x))
		var f, k [4]float64
		for c := lo; c < hi; c++ {
			a := math.Abs(float64(x[c] - base[c]))
			l := (c - lo) & 3
			f[l] += a
			if g.rng.Float64(int64(c)) < g.density {
				k[l] += a
			}
		}
		full += (f[0] + f[1]) + (f[2] + f[3])
		kept += (k[0] + k[1]) + (k[2] + k[3])
	}
	return full, kept
}
