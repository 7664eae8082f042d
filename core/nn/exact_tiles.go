package nn

// The exact mode's portable product (js/wasm, and amd64 without AVX): exactMatmul's
// arithmetic, tiled so that the compilers keep the sums in registers.
//
// A naive loop over l that adds into C in memory does a load and a store per
// multiply-add; under WebAssembly, where Go's compiler adds an address computation
// and a bounds check to each, that made the product 6 to 8 times slower than the same
// arithmetic with the sums held in locals. Here each call computes a tile of 2 rows ×
// 4 columns of C in eight local sums (Go's wasm backend has 16 float32 registers, and
// V8 maps them onto the 16 of x86-64: wider tiles spill), reading B's row through an
// array pointer (one bounds check per l instead of four). The sum is cut into blocks
// of exactKC terms that leave their partial sums in C, so that the k × 4 panel of B a
// block reads stays in cache while every row pair of A passes over it; storing a
// float32 partial sum and reloading it changes no bit, so every element is still the
// sum in index order from 0, every product rounded before it is added.

// exactKC is the number of terms of one block of the sum.
const exactKC = 512

// exactTiled is exactMatmul for m ≥ 2 rows. It computes padCols(n) columns (the
// padding of C gets junk, as from the kernels) and needs checkMatmul's buffers.
func exactTiled(m, n, k int, a []float32, lda int, b []float32, ldb int, rows []int32, c []float32, ldc int, bias []float32, relu bool) {
	np := padCols(n)
	for l0 := 0; l0 < k || l0 == 0; l0 += exactKC {
		l1 := min(l0+exactKC, k)
		first, last := l0 == 0, l1 == k
		for j := 0; j < np; j += 4 {
			// row pairs; when m is odd the last pair overlaps the one before and
			// stores only its second row (its first was summed already, and a block
			// that added into C twice would count its terms twice)
			for i := 0; i+2 <= m; i += 2 {
				exactTile2x4(a, lda, b, ldb, rows, l0, l1, j, c, ldc, i, bias, first, last, relu, false)
			}
			if m%2 != 0 {
				exactTile2x4(a, lda, b, ldb, rows, l0, l1, j, c, ldc, m-2, bias, first, last, relu, true)
			}
		}
	}
}

// exactTile2x4 adds terms l0 ≤ l < l1 of the sums of C[i:i+2, j:j+4], starting from 0
// when first, else from the partial sums in C; when last it adds the bias and
// applies relu, else it leaves the partial sums in C. With second it stores only
// row i+1.
func exactTile2x4(a []float32, lda int, b []float32, ldb int, rows []int32, l0, l1, j int, c []float32, ldc, i int, bias []float32, first, last, relu, second bool) {
	a0 := a[i*lda+l0 : i*lda+l1]
	a1 := a[(i+1)*lda+l0 : (i+1)*lda+l1]
	a1 = a1[:len(a0)]
	c0 := (*[4]float32)(c[i*ldc+j:][:4])
	c1 := (*[4]float32)(c[(i+1)*ldc+j:][:4])
	var s00, s01, s02, s03, s10, s11, s12, s13 float32
	if !first {
		s00, s01, s02, s03 = c0[0], c0[1], c0[2], c0[3]
		s10, s11, s12, s13 = c1[0], c1[1], c1[2], c1[3]
	}
	off := l0*ldb + j
	for l, x0 := range a0 {
		if rows != nil {
			off = int(rows[l0+l]) + j
		}
		bl := (*[4]float32)(b[off : off+4])
		x1 := a1[l]
		// explicit conversions: each product is rounded before it is added (no
		// fused multiply-add), as in every other exact product
		s00 = float32(s00 + float32(x0*bl[0]))
		s10 = float32(s10 + float32(x1*bl[0]))
		s01 = float32(s01 + float32(x0*bl[1]))
		s11 = float32(s11 + float32(x1*bl[1]))
		s02 = float32(s02 + float32(x0*bl[2]))
		s12 = float32(s12 + float32(x1*bl[2]))
		s03 = float32(s03 + float32(x0*bl[3]))
		s13 = float32(s13 + float32(x1*bl[3]))
		off += ldb
	}
	if !last {
		if !second {
			c0[0], c0[1], c0[2], c0[3] = s00, s01, s02, s03
		}
		c1[0], c1[1], c1[2], c1[3] = s10, s11, s12, s13
		return
	}
	var b0, b1 float32
	if bias != nil {
		b0, b1 = bias[i], bias[i+1]
	}
	if !second {
		c0[0], c0[1], c0[2], c0[3] = addAct(s00, b0, relu), addAct(s01, b0, relu), addAct(s02, b0, relu), addAct(s03, b0, relu)
	}
	c1[0], c1[1], c1[2], c1[3] = addAct(s10, b1, relu), addAct(s11, b1, relu), addAct(s12, b1, relu), addAct(s13, b1, relu)
}

// addAct is biasAct for one value: v + b, clamped at 0 when relu (NaN stays NaN).
func addAct(v, b float32, relu bool) float32 {
	if relu {
		return max(v+b, 0)
	}
	return v + b
}
