package nn

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"ladle/core/tensor"
)

// The portable exp and log stay within a few units in the last place of math's.
func TestPortableExpLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(name string, got, want, x float64) {
		t.Helper()
		if got == want || (math.IsNaN(got) && math.IsNaN(want)) {
			return
		}
		if ulps := math.Abs(got-want) / math.Abs(math.Nextafter(want, math.Inf(1))-want); !(ulps <= 4) {
			t.Errorf("%s(%v) = %v, math says %v (%.1f ulps)", name, x, got, want, ulps)
		}
	}
	// (math's amd64 assembly gives up early near the ends of the range, so these
	// compare in the normal range and check the ends by value)
	for _, x := range []float64{0, 1, -1, 0.5, -0.5, 700, -700, 1e-300, math.Inf(1), math.Inf(-1), math.NaN()} {
		check("exp", pexp(x), math.Exp(x), x)
	}
	for _, x := range []float64{1, 2, 0.5, math.E, 1e-300, 1e300, math.MaxFloat64, 0, -1, math.Inf(1), math.NaN()} {
		check("log", plog(x), math.Log(x), x)
	}
	if v := pexp(709.7); math.IsInf(v, 0) || v < 1.65e308 || v > 1.66e308 {
		t.Errorf("exp(709.7) = %v", v)
	}
	if v := plog(math.SmallestNonzeroFloat64); math.Abs(v+744.4400719213812) > 1e-12 {
		t.Errorf("log(2⁻¹⁰⁷⁴) = %v", v)
	}
	for range 20000 {
		x := (rng.Float64()*2 - 1) * 50
		check("exp", pexp(x), math.Exp(x), x)
		y := math.Exp(rng.Float64()*200 - 100)
		check("log", plog(y), math.Log(y), y)
	}
}

// Exact mode computes what the fast path computes, up to rounding, for every layer
// kind, and its loss agrees with NLL's.
func TestExactModeAgrees(t *testing.T) {
	spec := `{"input_shape": [2, 6, 6], "layers": [{"op": "conv2d", "name": "c1", "padding": 1}, {"op": "relu"},
		{"op": "conv2d", "name": "c2", "stride": 2}, {"op": "sigmoid"}, {"op": "flatten"},
		{"op": "linear", "name": "fc"}, {"op": "log_softmax"}]}`
	arch, err := ParseArch([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rnd := func(shape ...int) Tensor {
		n := 1
		for _, s := range shape {
			n *= s
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.NormFloat64() * 0.5)
		}
		return Tensor{Shape: shape, Data: d}
	}
	ts := map[string]Tensor{"c1.weight": rnd(4, 2, 3, 3), "c1.bias": rnd(4), "c2.weight": rnd(3, 4, 2, 2), "c2.bias": rnd(3),
		"fc.weight": rnd(5, 27), "fc.bias": rnd(5)}
	fast, err := NewModel(arch, ts)
	if err != nil {
		t.Fatal(err)
	}
	exact, _ := NewModel(arch, ts)
	exact.SetExact(true)
	x := rnd(9, 2, 6, 6).Data
	a, err := fast.Forward(x, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, err := exact.Forward(x, 9)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			t.Fatalf("output %d: fast %v, exact %v", i, a[i], b[i])
		}
	}
	// batch independence holds in exact mode too
	one, _ := exact.Forward(x[2*72:3*72], 1)
	for j := range one {
		if one[j] != b[2*5+j] {
			t.Fatalf("sample 2 alone differs from sample 2 in a batch: %v vs %v", one, b[10:15])
		}
	}
	// exact mode gives the same bits with and without the amd64 kernels: what the
	// portable path (js/wasm) computes
	if useKernel {
		useKernel = false
		c, err := exact.Forward(x, 9)
		useKernel = true
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			if math.Float32bits(b[i]) != math.Float32bits(c[i]) {
				t.Fatalf("output %d: exact with the kernels %v, without %v", i, b[i], c[i])
			}
		}
	}
	for i := range 9 {
		row := b[i*5 : (i+1)*5]
		if d := exact.NLL(row, 1) - NLL(row, 1, exact.OutputKind()); math.Abs(d) > 1e-12 {
			t.Errorf("sample %d: exact NLL differs by %g", i, d)
		}
	}
}

// exactRef is exactMatmul's definition, one element at a time: the sum over l in
// index order from 0, every product rounded to float32 before it is added, then the
// bias (0 when nil) added and relu applied.
func exactRef(m, n, k int, a []float32, lda int, b []float32, ldb int, rows []int32, bias []float32, relu bool) []float32 {
	out := make([]float32, m*n)
	for i := range m {
		for j := range n {
			var s float32
			for l := range k {
				off := l * ldb
				if rows != nil {
					off = int(rows[l])
				}
				p := a[i*lda+l] * b[off+j]
				s = float32(s + float32(p))
			}
			var bv float32
			if bias != nil {
				bv = bias[i]
			}
			v := s + bv
			if relu {
				v = max(v, 0)
			}
			out[i*n+j] = v
		}
	}
	return out
}

// exactMatmul, on every path it has here (the amd64 exact kernels, the tiled Go
// product that js/wasm runs, the row loop), gives the definition's bits: for
// m from 1 to 9 (the tiles' overlapping last block), k from 0 across a block of the
// tiled sum, B by stride and through a row table, with and without bias and relu,
// on values that make rounding, signed zeros, infinities and NaN show.
func TestExactMatmulBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	val := func() float32 {
		switch rng.IntN(40) {
		case 0:
			return 0
		case 1:
			return float32(math.Copysign(0, -1))
		case 2:
			return float32(math.Inf(1 - 2*rng.IntN(2)))
		case 3:
			return 1e30
		}
		return float32(rng.NormFloat64())
	}
	fill := func(n int, special bool) []float32 {
		s := make([]float32, n)
		for i := range s {
			if special {
				s[i] = val()
			} else {
				s[i] = float32(rng.NormFloat64())
			}
		}
		return s
	}
	saved := useKernel
	defer func() { useKernel = saved }()
	for _, kern := range []bool{false, saved} {
		useKernel = kern
		for _, m := range []int{1, 2, 3, 4, 5, 7, 9} {
			for _, n := range []int{1, 5, 16, 37} {
				for _, k := range []int{0, 1, 3, 17, exactKC + 9} {
					for variant := range 8 {
						special, byRows, withBias, relu := variant&1 != 0, variant&2 != 0, variant&4 != 0, rng.IntN(2) == 0
						np, lda := padCols(n), k+rng.IntN(3)
						a := fill(max((m-1)*lda+k, 1), special)
						var b []float32
						var rows []int32
						ldb := np + 16*rng.IntN(2)
						if byRows {
							b = fill(3*k+np+8, special)
							rows = make([]int32, k)
							for l := range rows {
								rows[l] = int32(rng.IntN(3*k + 8))
							}
							ldb = 0
						} else {
							b = fill(max(k, 1)*ldb, special)
						}
						var bias []float32
						if withBias {
							bias = fill(m, special)
						}
						ldc := np
						c := fill(m*ldc, false)
						exactMatmul(m, n, k, a, lda, b, ldb, rows, c, ldc, bias, relu)
						want := exactRef(m, n, k, a, lda, b, ldb, rows, bias, relu)
						for i := range m {
							for j := range n {
								g, w := c[i*ldc+j], want[i*n+j]
								if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
									t.Fatalf("kernel %v, m %d n %d k %d rows %v bias %v relu %v: C[%d,%d] = %v (%#x), want %v (%#x)",
										kern, m, n, k, byRows, withBias, relu, i, j, g, math.Float32bits(g), w, math.Float32bits(w))
								}
							}
						}
					}
				}
			}
		}
	}
}

// A batchnorm after a convolution (and its relu), and the relu after that batchnorm,
// run in the convolution's output copy in Forward: the same bits as their own
// passes, in exact mode and in the fast one.
func TestFusedBatchnormSameBits(t *testing.T) {
	spec := `{"input_shape": [2, 7, 7], "layers": [{"op": "conv2d", "name": "c1", "padding": 1}, {"op": "relu"},
		{"op": "batchnorm", "name": "b1"}, {"op": "conv2d", "name": "c2", "stride": 2}, {"op": "batchnorm", "name": "b2"},
		{"op": "relu"}, {"op": "flatten"}, {"op": "linear", "name": "fc"}]}`
	arch, err := ParseArch([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	rnd := func(pos bool, shape ...int) Tensor {
		n := 1
		for _, s := range shape {
			n *= s
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.NormFloat64())
			if pos {
				d[i] = d[i]*d[i] + 0.1
			}
		}
		return Tensor{Shape: shape, Data: d}
	}
	ts := map[string]Tensor{"c1.weight": rnd(false, 5, 2, 3, 3), "c1.bias": rnd(false, 5), "c2.weight": rnd(false, 4, 5, 3, 3), "c2.bias": rnd(false, 4),
		"fc.weight": rnd(false, 3, 36), "fc.bias": rnd(false, 3)}
	for _, b := range []struct {
		name string
		c    int
	}{{"b1", 5}, {"b2", 4}} {
		ts[b.name+".weight"], ts[b.name+".bias"] = rnd(false, b.c), rnd(false, b.c)
		ts[b.name+".running_mean"], ts[b.name+".running_var"] = rnd(false, b.c), rnd(true, b.c)
	}
	m, err := NewModel(arch, ts)
	if err != nil {
		t.Fatal(err)
	}
	fused := m.steps
	var unfused []step
	for _, st := range fused {
		if st.bn != nil {
			unfused = append(unfused, step{layer: st.layer, relu: st.relu}, step{layer: st.bn})
			if st.bnReLU {
				unfused = append(unfused, step{layer: layerAfter(m.layers, st.bn)})
			}
			continue
		}
		unfused = append(unfused, st)
	}
	if len(unfused) != len(fused)+3 {
		t.Fatalf("%d layers fused into convolutions, want 3 (two batchnorms, one relu)", len(unfused)-len(fused))
	}
	x := rnd(false, 21, 2, 7, 7).Data
	for _, exact := range []bool{true, false} {
		m.SetExact(exact)
		m.steps = fused
		a, err := m.Forward(x, 21)
		if err != nil {
			t.Fatal(err)
		}
		m.steps = unfused
		b, err := m.Forward(x, 21)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("exact %v: output %d: %v fused, %v unfused", exact, i, a[i], b[i])
			}
		}
	}
	m.steps = fused
}

// layerAfter returns the layer that follows l in layers.
func layerAfter(layers []layer, l layer) layer {
	for i, x := range layers[:len(layers)-1] {
		if x == l {
			return layers[i+1]
		}
	}
	panic("no layer after it")
}

// In exact mode gelu and tanh take erf and tanh from package tensor, forward and
// backward (package math's are compiled with fused operations on arm64 and amd64
// v3, and Tanh and Erf call amd64's assembly Exp): the outputs and gradients are
// those formulas' bits.
func TestExactActivationsPortable(t *testing.T) {
	const n = 64
	arch, err := ParseArch([]byte(`{"input_shape": [64], "layers": [{"op": "gelu"}, {"op": "tanh"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(arch, map[string]Tensor{})
	if err != nil {
		t.Fatal(err)
	}
	m.SetExact(true)
	x := make([]float32, n)
	dout := make([]float32, n)
	for i := range x {
		x[i] = float32(i-n/2) / 9
		dout[i] = float32(i%7) - 3
	}
	gelu := func(v float32) float32 {
		x := float64(v)
		return float32(0.5 * x * (1 + tensor.Erf(x/math.Sqrt2)))
	}
	p, err := m.Record(x, 1, Eval)
	if err != nil {
		t.Fatal(err)
	}
	dx, err := p.Backward(dout, m.NewGrads())
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range p.Output() {
		g := gelu(x[i])
		want := float32(tensor.Tanh(float64(g)))
		if math.Float32bits(v) != math.Float32bits(want) {
			t.Errorf("tanh(gelu(%v)) = %v, want %v", x[i], v, want)
		}
		dg := float32(float64(dout[i]) * (1 - float64(float64(v)*float64(v))))
		u := float64(x[i])
		cdf := float64(0.5 * (1 + tensor.Erf(u/math.Sqrt2)))
		pdf := invSqrt2Pi * pexp(-0.5*u*u)
		wantDx := float32(float64(dg) * (cdf + float64(u*pdf)))
		if math.Float32bits(dx[i]) != math.Float32bits(wantDx) {
			t.Errorf("gradient at %v = %v, want %v", x[i], dx[i], wantDx)
		}
	}
	// The choice itself, which float32 outputs rarely show.
	exact := &scratch{prep: &prepared{exact: true}}
	same := func(f, g func(float64) float64) bool {
		return reflect.ValueOf(f).Pointer() == reflect.ValueOf(g).Pointer()
	}
	if !same(erfOf(exact), tensor.Erf) || !same(tanhOf(exact), tensor.Tanh) || !same(erfOf(nil), math.Erf) || !same(tanhOf(nil), math.Tanh) {
		t.Error("exact mode must take tensor.Erf and tensor.Tanh, fast mode package math's")
	}
}
