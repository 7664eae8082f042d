//go:build js && wasm

package simd

// productModule is the WebAssembly module of the product, built once at start-up.
//
//	product(m, np, k, a, lda, b, ldb, rows, c, ldc, bias, relu)
//
// sets C[i, j] = act(Σ_l A[i, l]·B[l, j] + bias[i]) for i < m, j < np: package nn's
// exact product (nn.ExactProduct), whose sum runs over l in index order from 0 with
// every product rounded before it is added, then the bias (0 when there is none)
// added, then relu (v > 0 or NaN: v; else +0, Go's max(v, 0)). a, b, c, rows and
// bias are byte addresses in the engine's memory (rows 0: row l of B at b + l·ldb
// elements; else at b + rows[l] elements, rows being int32; bias 0: none), lda, ldb
// and ldc count elements, relu is 0 or 1, m ≥ tileRows and np is a multiple of
// 4·tileVecs.
//
// Each lane of f32x4.mul and f32x4.add rounds as the scalar f32.mul and f32.add do
// (IEEE 754 binary32, round to nearest even; WebAssembly has no fused form outside
// the relaxed-SIMD proposal), so four lanes compute four columns with the bits of the
// scalar loop. A tile of rows × columns keeps its sums in v128 locals, which V8
// keeps in registers; the last row block ends at row m, overlapping the one before
// when m is not a multiple of the tile's rows, and recomputes its rows with the same
// bits.
func productModule() []byte { return productModuleTiled(tileRows, tileVecs) }

// The tile: 2 rows × 4 vectors (16 columns). Measured under Node 20 on burn-mnist's
// shapes (BenchmarkProduct*, best of ten on a loaded 2-core machine): 2×4 and 4×2
// about the same, 3×2 10 to 30% slower, 3×4 and 4×4 about twice as slow (12 sums
// and more, with B's four vectors, do not fit x86-64's 16 vector registers and
// spill). Two rows let every product of two rows or more through.
const tileRows, tileVecs = 2, 4

// productModuleTiled is productModule with a tile of R rows × H vectors.
func productModuleTiled(R, H uint32) []byte {
	// parameters
	const (
		pM = iota
		pNP
		pK
		pA
		pLDA
		pB
		pLDB
		pRows
		pC
		pLDC
		pBias
		pRelu
		nParams
	)
	// locals
	lJ := uint32(nParams)
	lI, lAEnd, lBP, lBOff, lRP, lCP, lTmp := lJ+1, lJ+2, lJ+3, lJ+4, lJ+5, lJ+6, lJ+7
	lA0 := lJ + 8      // R row addresses of A
	lAcc := lA0 + R    // R·H sums: row r, columns j+4h.. at lAcc + H·r + h
	lBV0 := lAcc + R*H // H vectors of B's row
	lAV := lBV0 + H
	lBiasV, lV, lEnd := lAV+1, lAV+2, lAV+3
	locals := make([]byte, 0, lEnd-nParams)
	for l := uint32(nParams); l < lEnd; l++ {
		if l < lAcc {
			locals = append(locals, tI32)
		} else {
			locals = append(locals, tV128)
		}
	}
	c := &code{}
	// lengths in bytes
	for _, p := range []uint32{pLDA, pLDB, pLDC} {
		c.get(p).shl2().set(p)
	}
	c.i32(0).set(lJ)
	c.block().loop() // over column panels j
	c.get(lJ).get(pNP).geS().brIf(1)
	c.i32(0).set(lI)
	c.block().loop() // over row blocks i
	c.get(lI).get(pM).geS().brIf(1)
	// i = min(i, m-R): the last block ends at row m
	c.get(pM).i32(int32(R)).sub().set(lTmp)
	c.get(lI).get(lTmp).op(0x4a).ifThen().get(lTmp).set(lI).end() // i32.gt_s
	c.get(lI).get(pLDA).mul().get(pA).add().set(lA0)
	for r := uint32(1); r < R; r++ {
		c.get(lA0 + r - 1).get(pLDA).add().set(lA0 + r)
	}
	for r := uint32(0); r < R*H; r++ {
		c.v128zero().set(lAcc + r)
	}
	c.get(lJ).shl2().get(pB).add().set(lBOff)
	// aEnd: the end of row i of A; the R row pointers move along the rows with l
	c.get(lA0).get(pK).shl2().add().set(lAEnd)
	// one term l: B's row (through the row table or by stride), then every row of A
	step := func(rows bool) {
		if rows {
			c.get(lRP).i32load(0).shl2().get(lBOff).add().set(lBP)
			c.get(lRP).i32(4).add().set(lRP)
		}
		for h := uint32(0); h < H; h++ {
			c.get(lBP).v128load(16 * h).set(lBV0 + h)
		}
		for r := uint32(0); r < R; r++ {
			c.get(lA0 + r).load32splat(0).set(lAV)
			for h := uint32(0); h < H; h++ {
				c.get(lAcc + H*r + h).get(lAV).get(lBV0 + h).f32x4mul().f32x4add().set(lAcc + H*r + h)
			}
			c.get(lA0 + r).i32(4).add().set(lA0 + r)
		}
		if !rows {
			c.get(lBP).get(pLDB).add().set(lBP)
		}
	}
	// the sum, in a loop of its own for each way of reading B (no test per term;
	// addresses compare unsigned: the memory may pass 2 GiB)
	sum := func(rows bool) {
		c.block().loop()
		c.get(lA0).get(lAEnd).op(0x4f).brIf(1) // i32.ge_u
		step(rows)
		c.br(0).end().end()
	}
	c.get(pRows).ifThen()
	c.get(pRows).set(lRP)
	sum(true)
	c.els()
	c.get(lBOff).set(lBP)
	sum(false)
	c.end()
	// store: C row i+r at c + (i+r)·ldc + 4j
	c.get(lI).get(pLDC).mul().get(pC).add().get(lJ).shl2().add().set(lCP)
	for r := uint32(0); r < R; r++ {
		c.v128zero().set(lBiasV)
		c.get(pBias).ifThen()
		c.get(pBias).get(lI).shl2().add().f32load(4 * r).f32x4splat().set(lBiasV)
		c.end()
		for h := uint32(0); h < H; h++ {
			c.get(lAcc + H*r + h).get(lBiasV).f32x4add().set(lV)
			c.get(pRelu).ifThen()
			// v where v > 0 or v is NaN, else +0
			c.get(lV).v128zero().get(lV).v128zero().f32x4gt().get(lV).get(lV).f32x4ne().v128or().bitselect().set(lV)
			c.end()
			c.get(lCP).get(lV).v128store(16 * h)
		}
		c.get(lCP).get(pLDC).add().set(lCP)
	}
	c.get(lI).i32(int32(R)).add().set(lI)
	c.br(0).end().end()
	c.get(lJ).i32(int32(4 * H)).add().set(lJ)
	c.br(0).end().end()
	return module("product", nParams, locals, c)
}
