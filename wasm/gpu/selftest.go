//go:build js && wasm

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"

	"ladle/core/compute"
	"ladle/core/nn"
	"ladle/core/tensor"
)

// TestResult is one kernel's self-test on this adapter.
type TestResult struct {
	Kernel   string  `json:"kernel"`
	Elements int     `json:"elements"`           // outputs compared with the CPU reference
	OnGPU    int     `json:"onGPU"`              // of them, computed by the GPU (not flagged to the CPU)
	MaxError float64 `json:"maxError,omitempty"` // forward kernels: the largest difference, relative
	Err      string  `json:"error,omitempty"`
}

// SelfTest runs every kernel on data with zeros, ties, subnormals, NaN and infinities
// and compares it with the CPU reference: merge kernels bit for bit (the unit sum's raw
// output element by element against compute.UnitSumExact, which says which elements it
// must compute and which it must flag), forward kernels to float32 rounding. The
// scale multiplies the sizes (1 at start-up; tests ask for more).
func (d *Device) SelfTest(scale int) []TestResult {
	scale = max(scale, 1)
	r := rand.New(rand.NewPCG(2026, 9))
	return []TestResult{d.testUnitSum(r, scale), d.testHist(r, scale), d.testTies(r, scale), d.testLinear(r, scale), d.testConv(r, scale), d.testConvBNReLU(r, scale), d.testHead(r, scale), d.testAct(r, scale), d.testChunks(r, scale), d.testEval(r, scale)}
}

// Failed returns the first failed test's description, or "".
func Failed(rs []TestResult) string {
	for _, t := range rs {
		if t.Err != "" {
			return t.Kernel + ": " + t.Err
		}
	}
	return ""
}

func hardData(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		switch k := r.IntN(24); {
		case k < 12:
			out[i] = float32(r.NormFloat64() * 0.05)
		case k == 12:
			out[i] = 0
		case k == 13:
			out[i] = float32(math.Copysign(0, -1))
		case k == 14:
			out[i] = math.Float32frombits(uint32(r.IntN(1 << 23))) // subnormal
		case k == 15:
			out[i] = float32(math.NaN())
		case k == 16:
			out[i] = float32(math.Inf(1 - 2*r.IntN(2)))
		case k == 17:
			out[i] = float32(math.Ldexp(1+float64(r.IntN(8))/8, r.IntN(250)-125))
		case k == 18:
			out[i] = float32(math.Ldexp(1, -24+r.IntN(3))) // half-ulp ties against 1
		case k == 19:
			out[i] = float32(1 + float64(r.IntN(4))*0x1p-23)
		case k == 20:
			out[i] = float32(math.Round(r.NormFloat64()*4) / 16) // many equal values
		default:
			out[i] = float32(r.Float64()*2 - 1)
		}
	}
	return out
}

func (d *Device) testUnitSum(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "unit_sum"}
	n := 4096 * scale
	for _, c := range []struct {
		models   int
		div, mul float64
	}{{3, 3, 0}, {1, 0, 1}, {2, 0, 0.5}, {4, 0, 0.25}, {5, 5, 0}, {7, 7, 0}, {2, 0, 1}} {
		xs := make([][]float32, c.models)
		for i := range xs {
			xs[i] = hardData(r, n)
		}
		dv, me, _ := compute.ExactUnitSumMode(c.div, c.mul)
		raw := make([]uint32, n)
		d.mu.Lock()
		err := d.unitSumRaw(raw, xs, dv, me)
		d.mu.Unlock()
		if err != nil {
			res.Err = err.Error()
			return res
		}
		in := make([]uint32, c.models)
		one := make([][]float32, c.models)
		for e := range raw {
			for i, x := range xs {
				in[i], one[i] = math.Float32bits(x[e]), x[e:e+1]
			}
			want, ok := compute.UnitSumExact(in, dv, me)
			if !ok {
				want = flag
			}
			if raw[e] != want {
				var ref [1]float32
				compute.UnitSumRef(ref[:], one, c.div, c.mul)
				res.Err = fmt.Sprintf("%d models, scale ÷%v ×%v: element %d of %v gave bits %#08x, the CPU %#08x (%v)", c.models, c.div, c.mul, e, oneVals(one), raw[e], math.Float32bits(ref[0]), ref[0])
				return res
			}
			res.Elements++
			if ok {
				res.OnGPU++
			}
		}
		// and the whole path, flagged elements included, gives the CPU's bytes
		got, want := make([]float32, n), make([]float32, n)
		fixFlagged(got, raw, xs, c.div, c.mul)
		compute.UnitSumRef(want, xs, c.div, c.mul)
		for e := range got {
			if math.Float32bits(got[e]) != math.Float32bits(want[e]) {
				res.Err = fmt.Sprintf("element %d: %v, the CPU %v", e, got[e], want[e])
				return res
			}
		}
	}
	return res
}

// testTies checks the ties_sums kernel element by element against
// compute.TiesSumsExact (which says which elements it must compute and which it must
// flag) and the whole path, flagged elements computed by the CPU, against
// compute.TiesSumsRef, on hard data and on deltas with many equal magnitudes, opposite
// signs and zeros, under bounds that keep everything, nothing, or split equal keys.
func (d *Device) testTies(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "ties"}
	n := 4096 * scale
	for _, models := range []int{1, 2, 3, 5, 8} {
		for _, hard := range []bool{true, false} {
			base := hardData(r, n)
			xs := make([][]float32, models)
			for i := range xs {
				if hard {
					xs[i] = hardData(r, n)
					continue
				}
				xs[i] = make([]float32, n)
				for c := range xs[i] {
					if !compute.SafeForSubtraction(math.Float32bits(base[c])) {
						base[c] = 0.5
					}
					xs[i][c] = base[c] + float32(r.IntN(9)-4)/64 // equal magnitudes, both signs, zeros
				}
			}
			keep := make([]tensor.Bound, models)
			for i := range keep {
				switch k := r.IntN(4); k {
				case 0:
					keep[i] = tensor.Bound{Key: 0, Last: math.MaxInt64}
				case 1:
					keep[i] = tensor.Bound{Key: math.MaxUint32, Last: -1}
				default:
					c := r.IntN(n)
					keep[i] = tensor.Bound{Key: tensor.AbsKey(xs[i][c] - base[c]), Last: int64(r.IntN(n+1)) - 1}
				}
			}
			lo := r.IntN(1000)
			for i := range keep {
				if keep[i].Last >= 0 && keep[i].Last < math.MaxInt64 {
					keep[i].Last += int64(lo)
				}
			}
			for _, task := range []bool{false, true} {
				if msg := d.checkTies(&res, task, xs, base, keep, lo); msg != "" {
					res.Err = fmt.Sprintf("%d models: %s", models, msg)
					return res
				}
			}
		}
	}
	return res
}

// checkTies runs the kernel (TIES' sums, or the task-vector sum) and compares it with
// the exact form element by element and, where that claims a result, with the float64
// reference; it returns what differed ("" when nothing did).
func (d *Device) checkTies(res *TestResult, task bool, xs [][]float32, base []float32, keep []tensor.Bound, lo int) string {
	n := len(base)
	exact, ref := compute.TiesSumsExact, compute.TiesSumsRef
	if task {
		exact, ref = compute.TaskSumsExact, compute.TaskSumsRef
	}
	raw := make([]uint32, 4*n)
	d.mu.Lock()
	err := d.tiesRaw(raw, xs, base, keep, lo, task)
	d.mu.Unlock()
	if err != nil {
		return err.Error()
	}
	got, gotK := make([]float64, n), make([]uint32, n)
	decodeTies(got, gotK, raw)
	want, wantK := make([]float64, n), make([]uint32, n)
	ref(want, wantK, xs, base, keep, lo)
	in := make([]uint32, len(xs))
	for c := range n {
		for i, x := range xs {
			in[i] = math.Float32bits(x[c])
		}
		m, k, ok := exact(in, math.Float32bits(base[c]), keep, int64(lo+c))
		if !ok {
			m, k = 0, compute.TiesFlag
		}
		if math.Float64bits(got[c]) != math.Float64bits(m) || gotK[c] != k {
			return fmt.Sprintf("task %v: element %d of %v, base %v: gave %v (count %d), the CPU %v (count %d)", task, c, col(xs, c), base[c], got[c], gotK[c], want[c], wantK[c])
		}
		res.Elements++
		if ok {
			res.OnGPU++
			// the task sum's zero may be +0 where float64's is −0 (TaskSums' contract)
			if !(m == want[c] && (task || math.Float64bits(m) == math.Float64bits(want[c]))) || k != wantK[c] {
				return fmt.Sprintf("task %v: element %d: the exact form gave %v (%d), the float64 path %v (%d)", task, c, m, k, want[c], wantK[c])
			}
		}
	}
	return ""
}

func col(xs [][]float32, c int) []float32 {
	var out []float32
	for _, x := range xs {
		out = append(out, x[c])
	}
	return out
}

func oneVals(xs [][]float32) []float32 {
	var out []float32
	for _, x := range xs {
		out = append(out, x[0])
	}
	return out
}

func (d *Device) testHist(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "key_hist"}
	n := 20000 * scale
	x, base := make([]float32, n), make([]float32, n)
	for i := range x {
		base[i] = float32(r.NormFloat64())
		x[i] = base[i] + float32(math.Round(r.NormFloat64()*64)/4096) // ties
		if i%97 == 0 {
			x[i] = 0
		}
		if i%101 == 0 {
			x[i] = base[i]
		}
	}
	for _, b := range [][]float32{base, nil} {
		var want, got compute.Hist16
		compute.KeyHistogramRef(&want, x, b, true, 0)
		d.mu.Lock()
		ok, err := d.keyHist(&got, x, b, true, 0)
		d.mu.Unlock()
		if err != nil || !ok {
			res.Err = fmt.Sprintf("declined safe data (%v)", err)
			return res
		}
		// the low pass inside the fullest bin
		top := 0
		for i := range want {
			if want[i] > want[top] {
				top = i
			}
		}
		if want != got {
			res.Err = "the histogram of the top 16 bits differs from the CPU's"
			return res
		}
		clear(want[:])
		clear(got[:])
		compute.KeyHistogramRef(&want, x, b, false, uint32(top))
		d.mu.Lock()
		ok, err = d.keyHist(&got, x, b, false, uint32(top))
		d.mu.Unlock()
		if err != nil || !ok || want != got {
			res.Err = "the histogram of the low 16 bits differs from the CPU's"
			return res
		}
		res.Elements += 2 * n
		res.OnGPU += 2 * n
	}
	// unsafe data must be declined, not counted
	x[5] = math.Float32frombits(7)
	var got compute.Hist16
	d.mu.Lock()
	ok, err := d.keyHist(&got, x, base, true, 0)
	d.mu.Unlock()
	if err != nil || ok {
		res.Err = fmt.Sprintf("a subnormal input was not declined (ok %v, %v)", ok, err)
	}
	return res
}

// closeTo reports the relative error of got against want, scaled by the magnitude of
// the terms summed (mag): float32 sums in another order differ by a few ulps of it.
func relErr(got, want, mag float32) float64 {
	return math.Abs(float64(got-want)) / (float64(mag) + 1e-30)
}

func (d *Device) testLinear(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "linear"}
	n, in, out := 37*scale, 300, 17
	x, w, bias := randn(r, n*in), randn(r, out*in), randn(r, out)
	spice(x, w)
	want, got := make([]float32, n*out), make([]float32, n*out)
	for _, relu := range []bool{false, true} {
		compute.LinearRef(want, x, w, bias, n, in, out, relu)
		if !d.Linear(got, x, w, bias, n, in, out, relu) {
			res.Err = d.declined()
			return res
		}
		absx, absw := absOf(x), absOf(w)
		mag := make([]float32, n*out)
		compute.LinearRef(mag, absx, absw, absOf(bias), n, in, out, false)
		if !within(&res, got, want, mag) {
			return res
		}
	}
	declinesNaN(&res, func() bool { return d.Linear(got, x, w, bias, n, in, out, false) }, x)
	return res
}

func (d *Device) testConv(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "conv"}
	g := compute.ConvGeom{C: 3, H: 11, W: 9, OC: 5, KH: 3, KW: 2, SH: 2, SW: 1, PH: 1, PW: 0}
	g.OH, g.OW = g.Out()
	n := 7 * scale
	x, w, bias := randn(r, n*g.C*g.H*g.W), randn(r, g.OC*g.C*g.KH*g.KW), randn(r, g.OC)
	spice(x, w)
	want, got := make([]float32, n*g.OC*g.OH*g.OW), make([]float32, n*g.OC*g.OH*g.OW)
	for _, relu := range []bool{false, true} {
		compute.Conv2DRef(want, x, w, bias, n, g, relu)
		if !d.Conv2D(got, x, w, bias, n, g, relu) {
			res.Err = d.declined()
			return res
		}
		mag := make([]float32, len(want))
		compute.Conv2DRef(mag, absOf(x), absOf(w), absOf(bias), n, g, false)
		if !within(&res, got, want, mag) {
			return res
		}
	}
	// with the following batchnorm in the same pass
	bnScale, bnShift := randn(r, g.OC), randn(r, g.OC)
	compute.Conv2DAffineRef(want, x, w, bias, n, g, true, bnScale, bnShift, false)
	if !d.Conv2DAffine(got, x, w, bias, n, g, true, bnScale, bnShift, false) {
		res.Err = "declined the convolution with its batchnorm"
		return res
	}
	mag := make([]float32, len(want))
	compute.Conv2DAffineRef(mag, absOf(x), absOf(w), absOf(bias), n, g, false, absOf(bnScale), absOf(bnShift), false)
	if !within(&res, got, want, mag) {
		return res
	}
	declinesNaN(&res, func() bool { return d.Conv2D(got, x, w, bias, n, g, false) }, x)
	return res
}

// testConvBNReLU checks conv → batchnorm → relu in one pass (Conv2DAffine with
// reluAfter) against the reference, with and without the relu before the batchnorm;
// the shifts are centred so that about half the outputs are clamped to zero.
func (d *Device) testConvBNReLU(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "conv_bn_relu"}
	g := compute.ConvGeom{C: 4, H: 10, W: 7, OC: 6, KH: 3, KW: 3, SH: 1, SW: 2, PH: 1, PW: 1}
	g.OH, g.OW = g.Out()
	n := 5 * scale
	x, w, bias := randn(r, n*g.C*g.H*g.W), randn(r, g.OC*g.C*g.KH*g.KW), randn(r, g.OC)
	spice(x, w)
	bnScale, bnShift := randn(r, g.OC), randn(r, g.OC)
	bnScale[1] = 0 // a channel the batchnorm maps to its shift alone
	want, got := make([]float32, n*g.OC*g.OH*g.OW), make([]float32, n*g.OC*g.OH*g.OW)
	mag := make([]float32, len(want))
	compute.Conv2DAffineRef(mag, absOf(x), absOf(w), absOf(bias), n, g, false, absOf(bnScale), absOf(bnShift), false)
	for _, relu := range []bool{false, true} {
		compute.Conv2DAffineRef(want, x, w, bias, n, g, relu, bnScale, bnShift, true)
		if !d.Conv2DAffine(got, x, w, bias, n, g, relu, bnScale, bnShift, true) {
			res.Err = d.declined()
			return res
		}
		if !within(&res, got, want, mag) {
			return res
		}
		for i, v := range got {
			if v < 0 || math.Signbit(float64(v)) {
				res.Err = fmt.Sprintf("output %d: %v after the relu", i, v)
				return res
			}
		}
	}
	declinesNaN(&res, func() bool { return d.Conv2DAffine(got, x, w, bias, n, g, false, bnScale, bnShift, true) }, x)
	return res
}

// testHead checks a classifier's head in one submission (LinearHead: linear →
// batchnorm → log_softmax, and linear → relu → batchnorm → relu) against the CPU
// reference: each output within 1e-5 of its magnitude (the largest magnitude of the
// sample's logits, which the log-sum-exp carries into every output, plus its own),
// and compute.Agree's rule on the whole. Samples range from near-ties to confident
// ones whose loss is far below the logits' rounding, and one batch has 300 classes.
func (d *Device) testHead(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "linear_bn_log_softmax"}
	for _, c := range []struct{ n, in, out int }{{29 * scale, 40, 10}, {3 * scale, 24, 300}} {
		n, in, out := c.n, c.in, c.out
		x, w, bias := randn(r, n*in), randn(r, out*in), randn(r, out)
		spice(x, w)
		for s := range n { // from near-ties (0.01) to confident samples (logits of tens)
			k := float32(math.Pow(10, -2+3*float64(s%7)/6))
			for i := range in {
				x[s*in+i] *= k
			}
		}
		h := compute.Head{Scale: absOf(randn(r, out)), Shift: randn(r, out), LogSoftmax: true}
		h.Scale[1] = 0 // an output the batchnorm maps to its shift alone
		want, got := make([]float32, n*out), make([]float32, n*out)
		logitMag, mag := make([]float32, n*out), make([]float32, n*out)
		compute.LinearHeadRef(logitMag, absOf(x), absOf(w), absOf(bias), n, in, out, false, compute.Head{Scale: h.Scale, Shift: absOf(h.Shift)})
		for _, hh := range []compute.Head{h, {Scale: h.Scale, Shift: h.Shift, ReLU: true}} {
			compute.LinearHeadRef(want, x, w, bias, n, in, out, hh.ReLU, hh)
			if !d.LinearHead(got, x, w, bias, n, in, out, hh.ReLU, hh) {
				res.Err = d.declined()
				return res
			}
			copy(mag, logitMag)
			if hh.LogSoftmax { // the logits' error reaches every output through the log-sum-exp
				for s := range n {
					m := float32(0)
					for _, v := range logitMag[s*out : (s+1)*out] {
						m = max(m, v)
					}
					for o := range out {
						mag[s*out+o] = m + float32(math.Abs(float64(want[s*out+o])))
					}
				}
				labels := randLabels(r, n, out)
				if a := compute.Agree(want, got, out, labels); !a.OK() {
					res.Err = fmt.Sprintf("%d of %d samples classed otherwise than on the CPU; loss %v against the CPU's %v", a.Disagree, n, a.LossOther, a.LossCPU)
					return res
				}
			}
			if !within(&res, got, want, mag) {
				return res
			}
		}
		declinesNaN(&res, func() bool { return d.LinearHead(got, x, w, bias, n, in, out, false, h) }, x)
	}
	return res
}

// testAct checks gelu, tanh and sigmoid applied in a layer's pass (LinearAct for
// each, Conv2DAct for each) against the CPU reference, each output within 1e-5 of its
// magnitude plus its own size (tanh and sigmoid are of order 1 whatever their input),
// then a small network with all three through compute.Agree's rule.
func (d *Device) testAct(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "act"}
	acts := []compute.Act{compute.GELU, compute.Tanh, compute.Sigmoid}
	n, in, out := 23*scale, 50, 13
	x, w, bias := randn(r, n*in), randn(r, out*in), randn(r, out)
	spice(x, w)
	for i := range x { // inputs from 0.01 to 30, where the activations change form
		x[i] *= float32(math.Pow(10, -2+2.5*float64(i%11)/10)) / 7
	}
	g := compute.ConvGeom{C: 2, H: 9, W: 8, OC: 5, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	g.OH, g.OW = g.Out()
	cn := 3 * scale
	cx, cw, cb := randn(r, cn*g.C*g.H*g.W), randn(r, g.OC*g.C*g.KH*g.KW), randn(r, g.OC)
	check := func(got, pre, mag []float32, act compute.Act) bool {
		want := make([]float32, len(pre))
		for i, v := range pre {
			want[i] = compute.ActRef(act, v)
			mag[i] += float32(math.Abs(float64(want[i])))
		}
		return within(&res, got, want, mag)
	}
	for _, act := range acts {
		pre, got, mag := make([]float32, n*out), make([]float32, n*out), make([]float32, n*out)
		compute.LinearRef(pre, x, w, bias, n, in, out, false)
		compute.LinearRef(mag, absOf(x), absOf(w), absOf(bias), n, in, out, false)
		if !d.LinearAct(got, x, w, bias, n, in, out, act) {
			res.Err = act.String() + " after a linear layer: declined"
			return res
		}
		if !check(got, pre, mag, act) {
			res.Err = act.String() + " after a linear layer: " + res.Err
			return res
		}
		m := cn * g.OC * g.OH * g.OW
		pre, got, mag = make([]float32, m), make([]float32, m), make([]float32, m)
		compute.Conv2DRef(pre, cx, cw, cb, cn, g, false)
		compute.Conv2DRef(mag, absOf(cx), absOf(cw), absOf(cb), cn, g, false)
		if !d.Conv2DAct(got, cx, cw, cb, cn, g, act) {
			res.Err = act.String() + " after a convolution: declined"
			return res
		}
		if !check(got, pre, mag, act) {
			res.Err = act.String() + " after a convolution: " + res.Err
			return res
		}
	}
	if !declinesNaN(&res, func() bool { return d.LinearAct(make([]float32, n*out), x, w, bias, n, in, out, compute.GELU) }, x) {
		return res
	}
	// a network with all three: the CPU's classes and loss, under Agree's rule
	arch, err := nn.ParseArch([]byte(`{"input_shape": [30], "layers": [{"op": "linear", "name": "a"}, {"op": "gelu"},
	 {"op": "linear", "name": "b"}, {"op": "tanh"}, {"op": "linear", "name": "c"}, {"op": "sigmoid"},
	 {"op": "linear", "name": "d"}, {"op": "log_softmax"}]}`))
	if err != nil {
		res.Err = err.Error()
		return res
	}
	tensors := map[string]nn.Tensor{}
	for _, l := range []struct {
		name    string
		in, out int
	}{{"a", 30, 40}, {"b", 40, 40}, {"c", 40, 24}, {"d", 24, 10}} {
		wt := randn(r, l.out*l.in)
		for i := range wt {
			wt[i] *= float32(2 / math.Sqrt(float64(l.in)))
		}
		tensors[l.name+".weight"] = nn.Tensor{Shape: []int{l.out, l.in}, Data: wt}
		tensors[l.name+".bias"] = nn.Tensor{Shape: []int{l.out}, Data: randn(r, l.out)}
	}
	model, err := nn.NewModel(arch, tensors)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	ns := 64 * scale
	xs := randn(r, ns*30)
	labels := randLabels(r, ns, 10)
	cpu, err := model.Forward(xs, ns)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	before := d.Stats().Activations
	model.SetForwarder(d)
	gpu, err := model.Forward(xs, ns)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	if ran := d.Stats().Activations - before; ran != 3 {
		res.Err = fmt.Sprintf("%d of the network's 3 activations ran on the GPU", ran)
		return res
	}
	if a := compute.Agree(cpu, gpu, 10, labels); !a.OK() {
		res.Err = fmt.Sprintf("network: %d of %d predictions differ from the CPU's where its margin exceeds 1e-4; loss %v against the CPU's %v", a.Disagree, ns, a.LossOther, a.LossCPU)
	}
	return res
}

// testChunks runs a linear layer, a classifier's head and a convolution whose batch is
// larger than one binding may hold (the limit lowered for the test, as a device with
// small limits or a large batch would have it): the samples go in chunks, and the
// outputs are the bits of the same layers run whole.
func (d *Device) testChunks(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "chunks"}
	n, in, out := 37*scale, 300, 17
	x, w, bias := randn(r, n*in), randn(r, out*in), randn(r, out)
	h := compute.Head{Scale: absOf(randn(r, out)), Shift: randn(r, out), LogSoftmax: true}
	g := compute.ConvGeom{C: 3, H: 11, W: 9, OC: 5, KH: 3, KW: 2, SH: 2, SW: 1, PH: 1, PW: 0}
	g.OH, g.OW = g.Out()
	cn := 40 * scale // 1188 bytes a sample
	cx, cw, cb := randn(r, cn*g.C*g.H*g.W), randn(r, g.OC*g.C*g.KH*g.KW), randn(r, g.OC)
	type layer struct {
		name string
		run  func(y []float32) bool
		size int
	}
	layers := []layer{
		{"linear", func(y []float32) bool { return d.Linear(y, x, w, bias, n, in, out, true) }, n * out},
		{"linear_bn_log_softmax", func(y []float32) bool { return d.LinearHead(y, x, w, bias, n, in, out, false, h) }, n * out},
		{"conv", func(y []float32) bool { return d.Conv2DAct(y, cx, cw, cb, cn, g, compute.Tanh) }, cn * g.OC * g.OH * g.OW},
	}
	whole := make([][]float32, len(layers))
	for i, l := range layers {
		whole[i] = make([]float32, l.size)
		if !l.run(whole[i]) {
			res.Err = l.name + ": declined"
			return res
		}
	}
	saved := d.maxBind
	d.maxBind = int64(4 * (len(w) + 64)) // the weights fit; a third of the samples or so
	defer func() { d.maxBind = saved }()
	for i, l := range layers {
		before := d.Stats().ForwardChunks
		got := make([]float32, l.size)
		if !l.run(got) {
			res.Err = l.name + " in chunks: declined"
			return res
		}
		if subs := d.Stats().ForwardChunks - before; subs < 2 {
			res.Err = fmt.Sprintf("%s: %d submission under a limit of %d bytes, want chunks", l.name, subs, d.maxBind)
			return res
		}
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(whole[i][j]) {
				res.Err = fmt.Sprintf("%s in chunks: output %d is %v, whole %v", l.name, j, got[j], whole[i][j])
				return res
			}
			res.Elements++
			res.OnGPU++
		}
	}
	return res
}

// declined is why a kernel under test did not run: the lost device's error, or
// "declined".
func (d *Device) declined() string {
	if err := d.Lost(); err != nil {
		return err.Error()
	}
	return "declined"
}

// spice puts zeros, subnormals, equal values and a NaN into a forward test's inputs.
func spice(x, w []float32) {
	x[3], w[5], x[11] = 0, 0, math.Float32frombits(5) // zeros, a subnormal
	w[7] = math.Float32frombits(0x80000003)           // a negative subnormal
	x[20], x[21] = 0.5, 0.5                           // ties
}

// declinesNaN checks that a forward kernel leaves an input holding a NaN to the CPU
// (SwiftShader, for one, turns x·NaN into 0 in a sum).
func declinesNaN(res *TestResult, run func() bool, x []float32) bool {
	old := x[len(x)-1]
	x[len(x)-1] = float32(math.NaN())
	ran := run()
	x[len(x)-1] = old
	if ran {
		res.Err = "an input holding a NaN was computed on the GPU, not left to the CPU"
		return false
	}
	return true
}

// within checks a forward kernel's output: each value within 1e-5 of the sum of the
// magnitudes of its terms (a float32 sum in any order is within k·2^-24 of it).
func within(res *TestResult, got, want, mag []float32) bool {
	for i := range want {
		e := relErr(got[i], want[i], mag[i])
		res.MaxError = max(res.MaxError, e)
		if e > 1e-5 || math.IsNaN(float64(got[i])) {
			res.Err = fmt.Sprintf("output %d: %v, the CPU %v", i, got[i], want[i])
			return false
		}
		res.Elements++
		res.OnGPU++
	}
	return true
}

// randLabels returns n labels drawn from [0, classes).
func randLabels(r *rand.Rand, n, classes int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = r.IntN(classes)
	}
	return out
}

func randn(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

func absOf(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(math.Abs(float64(v)))
	}
	return out
}

// testArch is a small convolutional classifier (the shape of burn-mnist's network,
// which ends linear → batchnorm → log_softmax, with a conv → batchnorm → relu block
// first, as in most convolutional networks).
const testArch = `{"input_shape": [1, 28, 28], "input_scale": 0.00392156862745098,
 "layers": [{"op": "conv2d", "name": "c1"}, {"op": "batchnorm", "name": "bn1"}, {"op": "relu"}, {"op": "conv2d", "name": "c2", "stride": 2, "padding": 1},
  {"op": "relu"}, {"op": "batchnorm", "name": "bn"}, {"op": "flatten"}, {"op": "linear", "name": "fc1"}, {"op": "relu"},
  {"op": "dropout"}, {"op": "linear", "name": "fc2"}, {"op": "batchnorm", "name": "bn2"}, {"op": "log_softmax"}]}`

// testEval runs a whole evaluation both ways and applies compute.Agree's rule: the
// predicted class is the CPU's wherever the CPU's top-two margin exceeds 1e-4 (the
// others are counted), the mean loss agrees to 1e-5 relative.
func (d *Device) testEval(r *rand.Rand, scale int) TestResult {
	res := TestResult{Kernel: "evaluation"}
	arch, err := nn.ParseArch([]byte(testArch))
	if err != nil {
		res.Err = err.Error()
		return res
	}
	shapes := map[string][]int{"c1.weight": {6, 1, 3, 3}, "c1.bias": {6}, "c2.weight": {8, 6, 3, 3}, "c2.bias": {8},
		"bn1.weight": {6}, "bn1.bias": {6}, "bn1.running_mean": {6}, "bn1.running_var": {6},
		"bn.weight": {8}, "bn.bias": {8}, "bn.running_mean": {8}, "bn.running_var": {8},
		"fc1.weight": {24, 8 * 13 * 13}, "fc1.bias": {24}, "fc2.weight": {10, 24}, "fc2.bias": {10},
		"bn2.weight": {10}, "bn2.bias": {10}, "bn2.running_mean": {10}, "bn2.running_var": {10}}
	tensors := map[string]nn.Tensor{}
	for name, sh := range shapes {
		n := 1
		for _, v := range sh {
			n *= v
		}
		t := nn.Tensor{Shape: sh, Data: randn(r, n)}
		for i := range t.Data {
			switch name {
			case "bn.running_var", "bn.weight", "bn1.running_var", "bn1.weight", "bn2.running_var", "bn2.weight":
				t.Data[i] = 1 + 0.1*float32(math.Abs(float64(t.Data[i])))
			case "fc1.weight":
				t.Data[i] *= 0.05
			case "c2.weight", "fc2.weight":
				t.Data[i] *= 0.3
			}
		}
		tensors[name] = t
	}
	m, err := nn.NewModel(arch, tensors)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	n := 32 * scale
	x := make([]float32, n*28*28)
	for i := range x {
		x[i] = float32(r.IntN(256))
	}
	labels := randLabels(r, n, 10)
	cpu, err := m.Forward(x, n)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	before := d.Stats()
	m.SetForwarder(d)
	gpu, err := m.Forward(x, n)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	// c1 with its batchnorm and relu, c2 with its relu and batchnorm, fc1 with its
	// relu, fc2 with its batchnorm and the log_softmax: four passes, every layer on
	// the GPU
	after := d.Stats()
	if ran, heads := after.Forward-before.Forward, after.LogSoftmax-before.LogSoftmax; ran != 4 || heads != 1 {
		res.Err = fmt.Sprintf("%d of 4 layer passes ran on the GPU, %d of 1 with the log_softmax", ran, heads)
		return res
	}
	a := compute.Agree(cpu, gpu, 10, labels)
	res.Elements, res.OnGPU, res.MaxError = n, n-a.NearTies, a.LossRel
	if !a.OK() {
		res.Err = fmt.Sprintf("%d of %d predictions differ from the CPU's where its margin exceeds 1e-4; loss %v against the CPU's %v", a.Disagree, n, a.LossOther, a.LossCPU)
	}
	return res
}
