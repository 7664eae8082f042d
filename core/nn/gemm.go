package nn

import "gonum.org/v1/gonum/blas/gonum"

// The matrix products of the layers, on one goroutine: the passes already run one
// goroutine per chunk of samples, so gonum's Sgemm, which starts goroutines of its
// own for larger products, would only add scheduling. The inner loops are gonum's
// level-1 kernels (SIMD assembly on amd64, pure Go elsewhere, js/wasm included).
//
// All matrices are row-major with leading dimensions lda, ldb, ldc. acc false
// overwrites C; true adds to it. Each element of C is a sum over k in index order,
// whatever m and n are, so splitting a product into pieces does not change its bits.

var blas gonum.Implementation

// gemmNN: C[m×n] (+)= A[m×k] · B[k×n].
func gemmNN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	for i := range m {
		ci := c[i*ldc : i*ldc+n]
		if !acc {
			clear(ci)
		}
		ai := a[i*lda : i*lda+k]
		for l, av := range ai {
			blas.Saxpy(n, av, b[l*ldb:l*ldb+n], 1, ci, 1)
		}
	}
}

// gemmNT: C[m×n] (+)= A[m×k] · B[n×k]ᵀ, one dot product per element.
func gemmNT(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	for i := range m {
		ai := a[i*lda : i*lda+k]
		ci := c[i*ldc : i*ldc+n]
		for j := range ci {
			d := blas.Sdot(k, ai, 1, b[j*ldb:j*ldb+k], 1)
			if acc {
				ci[j] += d
			} else {
				ci[j] = d
			}
		}
	}
}

// gemmTN: C[m×n] (+)= A[k×m]ᵀ · B[k×n].
func gemmTN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	if !acc {
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
	}
	for l := range k {
		bl := b[l*ldb : l*ldb+n]
		for i, av := range a[l*lda : l*lda+m] {
			blas.Saxpy(n, av, bl, 1, c[i*ldc:i*ldc+n], 1)
		}
	}
}

// panel is the column width of the kernel's tiles. Buffers that go through matmul
// have their row stride rounded up to it (padCols), so that no tile is partial.
const panel = 16

func padCols(n int) int { return (n + panel - 1) / panel * panel }

// zeros is the bias of products that have none (one value per row of the largest tile).
var zeros [6]float32

// matmul sets C[m×n] = act(A[m×k] · B[k×n] + bias[i]) for every row i, act being relu
// when relu is set; bias may be nil. Row l of B is b[l·ldb:] (rows, when not nil,
// overrides this: row l is b[rows[l]:], which lets a convolution read the planes of
// its input directly instead of an im2col matrix). C's row stride ldc and every row of
// B must hold padCols(n) values: the kernel reads the padding of B and writes junk into
// C's, which callers ignore.
//
// With the amd64 kernels, rows come six (or four) at a time, each column panel of B
// (k × 16) staying in L1 while every row block of A passes over it. Products of fewer
// than four rows, and all products on other platforms, go through gonum's axpy.
func matmul(m, n, k int, a []float32, lda int, b []float32, ldb int, rows []int32, c []float32, ldc int, bias []float32, relu bool) {
	if m == 0 || n == 0 {
		return
	}
	done := 0 // rows computed by the kernel: all of them when m ≥ 4
	if useKernel && k > 0 && m >= 4 {
		done = m
		np := padCols(n)
		checkMatmul(m, np, k, a, lda, b, ldb, rows, c, ldc, bias)
		var r int
		if relu {
			r = 1
		}
		// Row blocks of six, then one of four that ends at row m, overlapping the
		// last block if need be: every element is the same FMA chain over l
		// whichever block computes it, so recomputing a row changes no bit.
		for j := 0; j < np; j += panel {
			i := 0
			for ; i+6 <= m; i += 6 {
				bp := &zeros[0]
				if bias != nil {
					bp = &bias[i]
				}
				if rows != nil {
					kern6x16g(k, &a[i*lda], lda, &b[j], &rows[0], &c[i*ldc+j], ldc, bp, r)
				} else {
					kern6x16(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc, bp, r)
				}
			}
			for i < m {
				i = min(i, m-4)
				bp := &zeros[0]
				if bias != nil {
					bp = &bias[i]
				}
				if rows != nil {
					kern4x16g(k, &a[i*lda], lda, &b[j], &rows[0], &c[i*ldc+j], ldc, bp, r)
				} else {
					kern4x16(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc, bp, r)
				}
				i += 4
			}
		}
	}
	for i := done; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		clear(ci)
		for l, av := range a[i*lda : i*lda+k] {
			off := l * ldb
			if rows != nil {
				off = int(rows[l])
			}
			blas.Saxpy(n, av, b[off:off+n], 1, ci, 1)
		}
		var bv float32
		if bias != nil {
			bv = bias[i]
		}
		biasAct(ci, ci, bv, relu)
	}
}

// checkMatmul verifies every access the kernel will make: it trusts its pointers.
func checkMatmul(m, np, k int, a []float32, lda int, b []float32, ldb int, rows []int32, c []float32, ldc int, bias []float32) {
	ok := ldc >= np && lda >= k && len(a) >= (m-1)*lda+k && len(c) >= (m-1)*ldc+np && (bias == nil || len(bias) >= m)
	if rows == nil {
		ok = ok && ldb >= np && len(b) >= (k-1)*ldb+np
	} else {
		ok = ok && len(rows) >= k
		for _, r := range rows[:k] {
			ok = ok && r >= 0 && int(r)+np <= len(b)
		}
	}
	if !ok {
		panic("nn: matmul: buffers too small")
	}
}

// biasAct sets dst = src + b, clamped at 0 when relu (NaN stays NaN).
func biasAct(dst, src []float32, b float32, relu bool) {
	dst = dst[:len(src)]
	if !relu {
		for j, v := range src {
			dst[j] = v + b
		}
		return
	}
	for j, v := range src {
		dst[j] = max(v+b, 0)
	}
}
