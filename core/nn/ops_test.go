package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// opCase is a small network and the shapes of the tensors it reads.
type opCase struct {
	name   string
	arch   string
	shapes map[string][]int
	batch  int
}

// Tolerances: the engine computes in float32, the reference in float64.
const (
	fwdTol = 1e-5 // forward: |got − want| ≤ fwdTol·max(1, |want|)
	bwdTol = 1e-5 // backward vs central differences of the float64 reference
)

func mustArch(tb testing.TB, s string) *Arch {
	tb.Helper()
	a, err := ParseArch([]byte(s))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// randomTensors draws every tensor: running variances in [0.5, 1.5], the rest in
// [−scale, scale]. It returns float32 tensors for the engine and exact float64
// copies for the reference.
func randomTensors(rng *rand.Rand, shapes map[string][]int, scale float64) (map[string]Tensor, map[string][]float64) {
	t32, t64 := map[string]Tensor{}, map[string][]float64{}
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names) // a fixed draw order for a fixed seed
	for _, name := range names {
		shape := shapes[name]
		d32, d64 := make([]float32, prod(shape)), make([]float64, prod(shape))
		for i := range d32 {
			v := float32((rng.Float64()*2 - 1) * scale)
			if strings.HasSuffix(name, "running_var") {
				v = float32(0.5 + rng.Float64())
			}
			d32[i], d64[i] = v, float64(v)
		}
		t32[name] = Tensor{Shape: shape, Data: d32}
		t64[name] = d64
	}
	return t32, t64
}

// checkCase compares the engine with the reference on one case: Forward, Record's
// output in the given mode, and Backward's gradients (input and every trainable
// parameter) against central differences of the reference.
func checkCase(t *testing.T, c opCase, mode Mode) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(len(c.name))))
	arch := mustArch(t, c.arch)
	t32, t64 := randomTensors(rng, c.shapes, 0.5)
	running := map[string][]float64{} // running statistics before training-mode updates
	for k, v := range t64 {
		running[k] = append([]float64(nil), v...)
	}
	m, err := NewModel(arch, t32)
	if err != nil {
		t.Fatal(err)
	}
	n, in := c.batch, m.InputSize()
	x32 := make([]float32, n*in)
	x64 := make([][]float64, n)
	for i := range x64 {
		x64[i] = make([]float64, in)
		for j := range in {
			v := float32(rng.Float64()*4 - 2)
			x32[i*in+j], x64[i][j] = v, float64(v)
		}
	}
	ref := &refNet{arch: arch, params: t64, shapes: c.shapes}

	// Eval-mode forward, in two batch splits and thread counts: bit-identical.
	want, wantShape := ref.forward(x64)
	if !sameInts(wantShape, m.OutputShape()) {
		t.Fatalf("output shape %v, reference %v", m.OutputShape(), wantShape)
	}
	got, err := m.Forward(x32, n)
	if err != nil {
		t.Fatal(err)
	}
	compareOut(t, "Forward", got, want, fwdTol)
	m.SetThreads(1)
	one, _ := m.Forward(x32[:in], 1)
	m.SetThreads(0)
	for j := range one {
		if math.Float32bits(one[j]) != math.Float32bits(got[j]) {
			t.Fatalf("Forward of sample 0 alone differs from the batch's: %v vs %v", one[j], got[j])
		}
	}

	ref.train = mode == Train
	want, _ = ref.forward(x64)
	p, err := m.Record(x32, n, mode)
	if err != nil {
		t.Fatal(err)
	}
	compareOut(t, "Record", p.Output(), want, fwdTol)

	if mode == Train {
		checkRunningStats(t, arch, ref, running, m, x64)
	}

	// Backward of L = Σ r·y.
	r := make([]float32, len(p.Output()))
	for i := range r {
		r[i] = float32(rng.Float64()*2 - 1)
	}
	g := m.NewGrads()
	dx, err := p.Backward(r, g)
	if err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		y, _ := ref.forward(x64)
		s := 0.0
		for i, row := range y {
			for j, v := range row {
				s += float64(r[i*len(row)+j]) * v
			}
		}
		return s
	}
	// Central differences in float64; h is small against the inputs' spread, so a kink
	// (relu at 0, a max-pool tie) lies between x ± h only with negligible probability.
	const h = 1e-6
	fd := func(v *float64) float64 {
		old := *v
		*v = old + h
		lp := loss()
		*v = old - h
		lm := loss()
		*v = old
		return (lp - lm) / (2 * h)
	}
	worst := 0.0
	check := func(what string, got float32, want float64) {
		e := math.Abs(float64(got)-want) / math.Max(1, math.Abs(want))
		worst = math.Max(worst, e)
		if e > bwdTol {
			t.Errorf("%s: backward %v, central difference %v", what, got, want)
		}
	}
	for _, i := range sampleIdx(rng, n*in, 40) {
		check(fmt.Sprintf("dx[%d]", i), dx[i], fd(&x64[i/in][i%in]))
	}
	for _, prm := range m.Params() {
		gp := g.Of(prm.Name)
		if !prm.Trainable {
			if gp != nil {
				t.Errorf("%s is a buffer but has a gradient", prm.Name)
			}
			continue
		}
		for _, i := range sampleIdx(rng, len(gp), 40) {
			check(fmt.Sprintf("d%s[%d]", prm.Name, i), gp[i], fd(&t64[prm.Name][i]))
		}
	}
	t.Logf("worst relative backward error %.2g", worst)
}

// checkRunningStats verifies the running statistics after a training-mode pass:
// (1 − m)·old + m·batch, with the unbiased batch variance.
func checkRunningStats(t *testing.T, arch *Arch, ref *refNet, old map[string][]float64, m *Model, x [][]float64) {
	t.Helper()
	// The input of each batchnorm layer, from the reference run up to it.
	sub := &refNet{arch: &Arch{InputShape: arch.InputShape, InputScale: arch.InputScale, Normalize: arch.Normalize}, params: ref.params, shapes: ref.shapes, train: true}
	for li, l := range arch.Layers {
		if l.Op != OpBatchnorm {
			continue
		}
		sub.arch.Layers = arch.Layers[:li]
		in, inShape := sub.forward(x)
		c := inShape[0]
		inner := prod(inShape) / c
		mom := l.momentum()
		for ch := range c {
			var vals []float64
			for _, s := range in {
				vals = append(vals, s[ch*inner:(ch+1)*inner]...)
			}
			mean, vr := 0.0, 0.0
			for _, v := range vals {
				mean += v
			}
			mean /= float64(len(vals))
			for _, v := range vals {
				vr += (v - mean) * (v - mean)
			}
			vr /= float64(len(vals) - 1)
			wantM := (1-mom)*old[l.Name+".running_mean"][ch] + mom*mean
			wantV := (1-mom)*old[l.Name+".running_var"][ch] + mom*vr
			gotM, gotV := m.Param(l.Name + ".running_mean").Data[ch], m.Param(l.Name + ".running_var").Data[ch]
			if math.Abs(float64(gotM)-wantM) > fwdTol || math.Abs(float64(gotV)-wantV) > fwdTol*math.Max(1, wantV) {
				t.Errorf("%s channel %d: running (mean, var) = (%v, %v), want (%v, %v)", l.Name, ch, gotM, gotV, wantM, wantV)
			}
		}
	}
}

func compareOut(t *testing.T, what string, got []float32, want [][]float64, tol float64) {
	t.Helper()
	k := len(want[0])
	if len(got) != len(want)*k {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want)*k)
	}
	for i, row := range want {
		for j, w := range row {
			if g := float64(got[i*k+j]); math.Abs(g-w) > tol*math.Max(1, math.Abs(w)) {
				t.Fatalf("%s: sample %d value %d = %v, reference %v", what, i, j, g, w)
			}
		}
	}
}

// sampleIdx returns all of [0, n) when n ≤ k, else k distinct random indices.
func sampleIdx(rng *rand.Rand, n, k int) []int {
	if n <= k {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return rng.Perm(n)[:k]
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func arch(input string, layers ...string) string {
	return `{"input_shape": ` + input + `, "layers": [` + strings.Join(layers, ", ") + `]}`
}

var opCases = []opCase{
	{"linear", arch("[7]", `{"op": "linear", "name": "fc"}`),
		map[string][]int{"fc.weight": {5, 7}, "fc.bias": {5}}, 4},
	{"linear-nobias", arch("[6]", `{"op": "linear", "name": "fc", "bias": false}`),
		map[string][]int{"fc.weight": {3, 6}}, 3},
	{"conv-3x3", arch("[2, 7, 6]", `{"op": "conv2d", "name": "c"}`),
		map[string][]int{"c.weight": {3, 2, 3, 3}, "c.bias": {3}}, 3},
	{"conv-stride2-pad1", arch("[3, 8, 7]", `{"op": "conv2d", "name": "c", "stride": 2, "padding": 1}`),
		map[string][]int{"c.weight": {4, 3, 3, 3}, "c.bias": {4}}, 2},
	{"conv-rect", arch("[2, 6, 9]", `{"op": "conv2d", "name": "c", "kernel": [2, 3], "stride": [2, 1], "padding": [1, 0], "bias": false}`),
		map[string][]int{"c.weight": {3, 2, 2, 3}}, 3},
	{"conv-stride3-pad2", arch("[1, 9, 10]", `{"op": "conv2d", "name": "c", "stride": 3, "padding": 2}`),
		map[string][]int{"c.weight": {2, 1, 4, 4}, "c.bias": {2}}, 2},
	{"conv-1x1", arch("[4, 3, 5]", `{"op": "conv2d", "name": "c"}`),
		map[string][]int{"c.weight": {6, 4, 1, 1}, "c.bias": {6}}, 3},
	{"batchnorm2d", arch("[3, 4, 5]", `{"op": "batchnorm", "name": "bn", "eps": 0.001}`),
		bnShapes("bn", 3, true), 4},
	{"batchnorm1d", arch("[6]", `{"op": "batchnorm", "name": "bn"}`),
		bnShapes("bn", 6, true), 5},
	{"batchnorm-noaffine", arch("[2, 3, 3]", `{"op": "batchnorm", "name": "bn", "affine": false, "momentum": 0.3}`),
		bnShapes("bn", 2, false), 3},
	{"relu", arch("[3, 4, 5]", `{"op": "relu"}`), nil, 2},
	{"gelu", arch("[3, 4, 5]", `{"op": "gelu"}`), nil, 2},
	{"tanh", arch("[3, 4, 5]", `{"op": "tanh"}`), nil, 2},
	{"sigmoid", arch("[3, 4, 5]", `{"op": "sigmoid"}`), nil, 2},
	{"maxpool", arch("[2, 6, 8]", `{"op": "maxpool2d", "kernel": 2}`), nil, 3},
	{"maxpool-k3s2p1", arch("[2, 7, 6]", `{"op": "maxpool2d", "kernel": 3, "stride": 2, "padding": 1}`), nil, 3},
	{"avgpool", arch("[2, 6, 8]", `{"op": "avgpool2d", "kernel": [2, 4]}`), nil, 3},
	{"avgpool-k3s1p1", arch("[2, 5, 6]", `{"op": "avgpool2d", "kernel": 3, "stride": 1, "padding": 1}`), nil, 3},
	{"flatten-dropout", arch("[2, 3, 2]", `{"op": "flatten"}`, `{"op": "dropout", "p": 0.5}`, `{"op": "linear", "name": "fc"}`),
		map[string][]int{"fc.weight": {4, 12}, "fc.bias": {4}}, 3},
	{"softmax", arch("[7]", `{"op": "softmax"}`), nil, 3},
	{"log_softmax", arch("[7]", `{"op": "log_softmax"}`), nil, 3},
	{"softmax-channels", arch("[4, 2, 3]", `{"op": "softmax"}`), nil, 2},
	{"log_softmax-channels", arch("[4, 2, 3]", `{"op": "log_softmax"}`), nil, 2},
	{"classifier-head", arch("[6]", `{"op": "linear", "name": "fc1"}`, `{"op": "relu"}`, `{"op": "batchnorm", "name": "bn1"}`,
		`{"op": "relu"}`, `{"op": "dropout"}`, `{"op": "linear", "name": "fc2", "bias": false}`, `{"op": "batchnorm", "name": "bn2", "affine": false}`, `{"op": "log_softmax"}`),
		merge(map[string][]int{"fc1.weight": {5, 6}, "fc1.bias": {5}, "fc2.weight": {4, 5}}, bnShapes("bn1", 5, true), bnShapes("bn2", 4, false)), 3},
	{"input-normalize", `{"input_shape": [3, 2, 2], "input_scale": 0.5, "normalize": {"mean": [0.1, -0.2, 0.3], "std": [0.5, 2, 1.5]},
		"layers": [{"op": "flatten"}, {"op": "linear", "name": "fc"}]}`,
		map[string][]int{"fc.weight": {2, 12}, "fc.bias": {2}}, 3},
	{"network", `{"input_shape": [2, 9, 8], "normalize": {"mean": [0.5], "std": [2]}, "layers": [
		{"op": "conv2d", "name": "c1", "padding": 1}, {"op": "batchnorm", "name": "bn1"}, {"op": "relu"},
		{"op": "maxpool2d", "kernel": 2}, {"op": "conv2d", "name": "c2", "stride": 2}, {"op": "tanh"},
		{"op": "avgpool2d", "kernel": 1}, {"op": "flatten"}, {"op": "linear", "name": "fc1"}, {"op": "gelu"},
		{"op": "batchnorm", "name": "bn2"}, {"op": "dropout"}, {"op": "linear", "name": "fc2"}, {"op": "sigmoid"},
		{"op": "linear", "name": "fc3"}, {"op": "log_softmax"}]}`,
		merge(map[string][]int{
			"c1.weight": {4, 2, 3, 3}, "c1.bias": {4}, "c2.weight": {5, 4, 2, 2}, "c2.bias": {5},
			"fc1.weight": {7, 20}, "fc1.bias": {7}, "fc2.weight": {6, 7}, "fc2.bias": {6},
			"fc3.weight": {4, 6}, "fc3.bias": {4},
		}, bnShapes("bn1", 4, true), bnShapes("bn2", 7, true)), 5},
}

func bnShapes(name string, c int, affine bool) map[string][]int {
	s := map[string][]int{name + ".running_mean": {c}, name + ".running_var": {c}}
	if affine {
		s[name+".weight"], s[name+".bias"] = []int{c}, []int{c}
	}
	return s
}

func merge(ms ...map[string][]int) map[string][]int {
	out := map[string][]int{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// kernels runs f with each matrix-product path this machine has: the amd64 FMA
// kernel (where the CPU has it) and the portable gonum path that js/wasm runs.
func kernels(t *testing.T, f func(t *testing.T)) {
	have := useKernel
	defer func() { useKernel = have }()
	paths := []bool{false}
	if have {
		paths = append(paths, true)
	}
	for _, k := range paths {
		useKernel = k
		name := "portable"
		if k {
			name = "fma-kernel"
		}
		t.Run(name, f)
	}
}

func TestOpsEvalMode(t *testing.T) {
	kernels(t, func(t *testing.T) {
		for _, c := range opCases {
			t.Run(c.name, func(t *testing.T) { checkCase(t, c, Eval) })
		}
	})
}

func TestOpsTrainMode(t *testing.T) {
	kernels(t, func(t *testing.T) {
		for _, c := range opCases {
			if !strings.Contains(c.arch, "batchnorm") {
				continue // identical to eval mode
			}
			t.Run(c.name, func(t *testing.T) { checkCase(t, c, Train) })
		}
	})
}
