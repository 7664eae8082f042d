//go:build js && wasm

package simd

import (
	"math"
	"math/rand/v2"
	"syscall/js"
	"testing"

	"ladle/core/nn"
)

// install installs the module or skips: the plain go_js_wasm_exec exposes no memory.
func install(t testing.TB) {
	t.Helper()
	if js.Global().Get("ladleGoMemory").Type() != js.TypeFunction {
		t.Skip("globalThis.ladleGoMemory is missing: run with -exec='node site/browsertest/testdata/wasm_exec_mem.js' (site/browsertest's TestWasmPackagesUnderNode does)")
	}
	if err := Install(); err != nil {
		t.Fatalf("Install: %v (Node 20 has WebAssembly SIMD)", err)
	}
	t.Cleanup(func() { nn.SetExactProduct(nil) })
}

// ref is the product's definition, one element at a time.
func ref(m, np, k int, a []float32, lda int, b []float32, ldb int, rows []int32, bias []float32, relu bool) []float32 {
	out := make([]float32, m*np)
	for i := range m {
		for j := range np {
			var s float32
			for l := range k {
				off := l * ldb
				if rows != nil {
					off = int(rows[l])
				}
				s = float32(s + float32(a[i*lda+l]*b[off+j]))
			}
			var bv float32
			if bias != nil {
				bv = bias[i]
			}
			v := s + bv
			if relu {
				v = max(v, 0)
			}
			out[i*np+j] = v
		}
	}
	return out
}

// The module's product has the definition's bits: m from 2 to 13 (the overlapping
// last row block), several panels, k from 0, B by stride and through a row table,
// with and without bias and relu, on values that make rounding, signed zeros,
// infinities and NaN show; and the guards decline what the module does not take.
func TestProductBits(t *testing.T) {
	install(t)
	rng := rand.New(rand.NewPCG(5, 6))
	val := func(special bool) float32 {
		if special {
			switch rng.IntN(30) {
			case 0:
				return 0
			case 1:
				return float32(math.Copysign(0, -1))
			case 2:
				return float32(math.Inf(1 - 2*rng.IntN(2)))
			case 3:
				return 3e38
			}
		}
		return float32(rng.NormFloat64())
	}
	fill := func(n int, special bool) []float32 {
		s := make([]float32, max(n, 1))
		for i := range s {
			s[i] = val(special)
		}
		return s
	}
	for _, m := range []int{2, 3, 4, 5, 7, 13} {
		for _, np := range []int{16, 32, 48} {
			for _, k := range []int{0, 1, 2, 9, 144, 700} {
				for variant := range 16 {
					special, byRows, withBias, relu := variant&1 != 0, variant&2 != 0, variant&4 != 0, variant&8 != 0
					lda, ldc := k+rng.IntN(3), np+4*rng.IntN(2)
					a := fill((m-1)*lda+k, special)
					ldb := np + rng.IntN(5)
					var b []float32
					var rows []int32
					if byRows {
						ldb = 0
						b = fill(2*k+np+5, special)
						rows = make([]int32, k)
						for l := range rows {
							rows[l] = int32(rng.IntN(2*k + 5))
						}
					} else {
						b = fill(k*ldb+np, special)
					}
					var bias []float32
					if withBias {
						bias = fill(m, special)
					}
					c := fill(m*ldc, false)
					if !Product(m, np, k, a, lda, b, ldb, rows, c, ldc, bias, relu) {
						t.Fatalf("m %d np %d k %d: declined", m, np, k)
					}
					want := ref(m, np, k, a, lda, b, ldb, rows, bias, relu)
					for i := range m {
						for j := range np {
							g, w := c[i*ldc+j], want[i*np+j]
							if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
								t.Fatalf("m %d np %d k %d rows %v bias %v relu %v: C[%d,%d] = %v (%#x), want %v (%#x)",
									m, np, k, byRows, withBias, relu, i, j, g, math.Float32bits(g), w, math.Float32bits(w))
							}
						}
					}
				}
			}
		}
	}
	if Product(1, 16, 1, make([]float32, 1), 1, make([]float32, 16), 16, nil, make([]float32, 16), 16, nil, false) {
		t.Error("one row: not declined")
	}
	if Product(4, 8, 1, make([]float32, 4), 1, make([]float32, 8), 8, nil, make([]float32, 32), 8, nil, false) {
		t.Error("8 columns: not declined")
	}
}

// A model in exact mode gives the same bits with the module as without: the
// convolutions (by row table, with padding; by im2col, strided) and the linear
// layers all go through it.
func TestModelSameBits(t *testing.T) {
	spec := `{"input_shape": [2, 9, 9], "layers": [{"op": "conv2d", "name": "c1", "padding": 1}, {"op": "relu"},
		{"op": "conv2d", "name": "c2", "stride": 2}, {"op": "relu"}, {"op": "flatten"},
		{"op": "linear", "name": "fc"}, {"op": "relu"}, {"op": "linear", "name": "out"}, {"op": "log_softmax"}]}`
	arch, err := nn.ParseArch([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	rnd := func(shape ...int) nn.Tensor {
		n := 1
		for _, s := range shape {
			n *= s
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.NormFloat64() * 0.5)
		}
		return nn.Tensor{Shape: shape, Data: d}
	}
	ts := map[string]nn.Tensor{"c1.weight": rnd(6, 2, 3, 3), "c1.bias": rnd(6), "c2.weight": rnd(5, 6, 3, 3), "c2.bias": rnd(5),
		"fc.weight": rnd(20, 80), "fc.bias": rnd(20), "out.weight": rnd(7, 20), "out.bias": rnd(7)}
	m, err := nn.NewModel(arch, ts)
	if err != nil {
		t.Fatal(err)
	}
	m.SetExact(true)
	x := rnd(37, 2, 9, 9).Data
	want, err := m.Forward(x, 37)
	if err != nil {
		t.Fatal(err)
	}
	install(t)
	before := calls.Load()
	got, err := m.Forward(x, 37)
	if err != nil {
		t.Fatal(err)
	}
	// per sample: two convolutions; per chunk of 16: two linear layers
	if n := calls.Load() - before; n < 2*37+2*3 {
		t.Errorf("the module computed %d products, want at least %d", n, 2*37+2*3)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("output %d: %v with the module, %v without", i, got[i], want[i])
		}
	}
}
