package nn

import (
	"math"
	"sync/atomic"

	"ladle/core/tensor"
)

// Exact mode. By default a Model takes the fastest path its platform has (the amd64
// AVX/FMA kernels, gonum's SIMD routines, the assembly math.Exp), so that the last
// bits of its outputs may differ between platforms. In exact mode every platform
// computes the same bits, native amd64 and js/wasm alike: products are plain loops
// over k in index order with every product and sum rounded to float32 (explicit
// conversions, which the compiler may not fuse), exp and log (softmax, log_softmax,
// sigmoid, the loss) are this file's portable implementations, and gelu's erf and
// tanh are package tensor's (package math's are compiled with fused operations on
// arm64 and amd64 v3, and call the assembly math.Exp on amd64). It is what lets the
// playground's evaluation print exactly what `ladle eval` prints.

// SetExact turns exact mode on or off (off by default).
func (m *Model) SetExact(on bool) { m.exact = on }

// Exact reports whether the model is in exact mode.
func (m *Model) Exact() bool { return m.exact }

// NLL is −log p(label) of one output row, read as the model's last layer makes it
// (OutputKind), with the portable exp and log in exact mode.
func (m *Model) NLL(row []float32, label int) float64 {
	if !m.exact {
		return NLL(row, label, m.OutputKind())
	}
	switch m.OutputKind() {
	case LogProbs:
		return -float64(row[label])
	case Probs:
		return -plog(math.Max(float64(row[label]), minProb))
	}
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += pexp(float64(v) - mx)
	}
	return mx + plog(s) - float64(row[label])
}

// exactPass reports whether a pass runs in exact mode.
func exactPass(s *scratch) bool { return s != nil && s.prep != nil && s.prep.exact }

// expLog are the exp and log of a pass: the portable ones in exact mode.
func expLog(s *scratch) (func(float64) float64, func(float64) float64) {
	if exactPass(s) {
		return pexp, plog
	}
	return math.Exp, math.Log
}

// erfOf is the erf of a pass (gelu's): tensor.Erf, the portable one, in exact mode.
func erfOf(s *scratch) func(float64) float64 {
	if exactPass(s) {
		return tensor.Erf
	}
	return math.Erf
}

// tanhOf is the tanh of a pass: tensor.Tanh, the portable one, in exact mode.
func tanhOf(s *scratch) func(float64) float64 {
	if exactPass(s) {
		return tensor.Tanh
	}
	return math.Tanh
}

// exactMatmul is matmul's exact form: C[i, j] = act(Σ_l A[i, l]·B[l, j] + bias[i]),
// the sum in index order from 0 with every product rounded before it is added, then
// the bias (0 when nil) added. On amd64 rows go four at a time through the exact
// kernels (the last block overlapping the one before, which recomputes the same bits);
// elsewhere, and for two or three rows, through the same arithmetic in Go, tiled
// (exact_tiles.go); a single row by a plain loop. The buffers are matmul's: padded to
// whole panels.
func exactMatmul(m, n, k int, a []float32, lda int, b []float32, ldb int, rows []int32, c []float32, ldc int, bias []float32, relu bool) {
	if m == 0 || n == 0 {
		return
	}
	done := 0
	if useKernel && k > 0 && m >= 4 {
		done = m
		np := padCols(n)
		checkMatmul(m, np, k, a, lda, b, ldb, rows, c, ldc, bias)
		var r int
		if relu {
			r = 1
		}
		for j := 0; j < np; j += panel {
			for i := 0; i < m; i += 4 {
				i = min(i, m-4)
				bp := &zeros[0]
				if bias != nil {
					bp = &bias[i]
				}
				if rows != nil {
					kern4x16gx(k, &a[i*lda], lda, &b[j], &rows[0], &c[i*ldc+j], ldc, bp, r)
				} else {
					kern4x16x(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc, bp, r)
				}
			}
		}
	}
	if p := exactProduct.Load(); done == 0 && m >= 2 && p != nil {
		np := padCols(n)
		checkMatmul(m, np, k, a, lda, b, ldb, rows, c, ldc, bias)
		if (*p)(m, np, k, a, lda, b, ldb, rows, c, ldc, bias, relu) {
			return
		}
	}
	if done == 0 && m >= 2 {
		checkMatmul(m, padCols(n), k, a, lda, b, ldb, rows, c, ldc, bias)
		exactTiled(m, n, k, a, lda, b, ldb, rows, c, ldc, bias, relu)
		return
	}
	for i := done; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		clear(ci)
		for l, av := range a[i*lda : i*lda+k] {
			off := l * ldb
			if rows != nil {
				off = int(rows[l])
			}
			bl := b[off : off+n]
			ci := ci[:len(bl)]
			for j, bv := range bl {
				ci[j] = float32(ci[j] + float32(av*bv))
			}
		}
		var bv float32
		if bias != nil {
			bv = bias[i]
		}
		biasAct(ci, ci, bv, relu)
	}
}

// ExactProduct computes the exact mode's product faster than Go can on some platform
// (js/wasm: WebAssembly SIMD, package ladle/wasm/simd), with the same bits:
// C[i, j] = act(Σ_l A[i, l]·B[l, j] + bias[i]) for i < m (m ≥ 2) and j < np (a
// multiple of 16), the sum in index order from 0 with every product rounded to float32
// before it is added, then bias[i] (0 when bias is nil) added, then relu when relu
// (Go's max(v, 0)). Row l of B is b[l·ldb:], or b[rows[l]:] when rows is not nil. The
// buffers have been checked to hold every element it reads and writes. It returns
// false when it did not run; the Go product then runs.
type ExactProduct func(m, np, k int, a []float32, lda int, b []float32, ldb int, rows []int32, c []float32, ldc int, bias []float32, relu bool) bool

var exactProduct atomic.Pointer[ExactProduct]

// SetExactProduct makes every exact product in the process of two rows or more go
// through f first (nil: none). It is for a platform's start-up code, which must have
// tested f against the Go product (as ladle/wasm/simd's tests do).
func SetExactProduct(f ExactProduct) {
	if f == nil {
		exactProduct.Store(nil)
		return
	}
	exactProduct.Store(&f)
}

// Portable exp and log: pure Go with every step rounded as written, so that each
// platform computes the same bits (math.Exp and math.Log are assembly on some). Their
// error is within a few units in the last place, far below what a mean loss shows.

const (
	ln2Hi = 6.93147180369123816490e-01 // high bits of ln 2: k·ln2Hi is exact for |k| < 2¹⁰
	ln2Lo = 1.90821492927058770002e-10 // ln 2 − ln2Hi
)

// pexp is eˣ: x = k·ln 2 + r with |r| ≤ ln 2 / 2, eʳ by its Taylor series to r¹⁷
// (the remainder is below 2⁻⁵⁸ of the result), then scaled by 2ᵏ.
func pexp(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 709.782712893384:
		return math.Inf(1)
	case x < -745.1332191019412:
		return 0
	}
	k := math.Floor(float64(x*math.Log2E) + 0.5)
	r := float64(float64(x-float64(k*ln2Hi)) - float64(k*ln2Lo))
	// Horner: 1 + r(1 + r/2(1 + r/3(… (1 + r/17))))
	p := 1.0
	for n := 17; n >= 1; n-- {
		p = float64(1 + float64(float64(r/float64(n))*p))
	}
	return math.Ldexp(p, int(k))
}

// plog is ln x: x = f·2ᵉ with √½ ≤ f < √2, ln f = 2·atanh(s) with s = (f − 1)/(f + 1),
// |s| < 0.172, by its series to s²³ (the remainder is below 2⁻⁶⁰ of the result).
func plog(x float64) float64 {
	switch {
	case x != x || x > math.MaxFloat64:
		return x
	case x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	}
	f, e := math.Frexp(x)
	if f < math.Sqrt2/2 {
		f, e = f*2, e-1
	}
	s := float64(float64(f-1) / float64(f+1))
	s2 := float64(s * s)
	// 2s(1 + s²/3 + s⁴/5 + … + s²²/23)
	p := 1.0 / 23
	for n := 21; n >= 1; n -= 2 {
		p = float64(1/float64(n) + float64(s2*p))
	}
	lnf := float64(2 * float64(s*p))
	return float64(float64(float64(e)*ln2Hi) + float64(float64(float64(e)*ln2Lo)+lnf))
}

// mm is the pass's matmul: the exact form in exact mode, and wherever the amd64
// kernels are missing (js/wasm, purego), where the exact form's register tiles (or
// the platform's ExactProduct) are several times faster than gonum's level-1 loops.
func mm(s *scratch) func(m, n, k int, a []float32, lda int, b []float32, ldb int, rows []int32, c []float32, ldc int, bias []float32, relu bool) {
	if !useKernel || (s != nil && s.prep != nil && s.prep.exact) {
		return exactMatmul
	}
	return matmul
}
