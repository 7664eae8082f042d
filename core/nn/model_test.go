package nn

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

func TestParseArchErrors(t *testing.T) {
	cases := []struct{ spec, want string }{
		{`{"layers": [{"op": "relu"}]}`, "input_shape is missing"},
		{`{"input_shape": [1, 0], "layers": [{"op": "relu"}]}`, "must be positive"},
		{`{"input_shape": [4], "layers": []}`, "no layers"},
		{`{"input_shape": [4], "layers": [{"op": "linear"}]}`, `needs a "name"`},
		{`{"input_shape": [4], "layers": [{"op": "conv3d", "name": "c"}]}`, `unknown op "conv3d"`},
		{`{"input_shape": [4], "layers": [{"op": "relu", "stide": 2}]}`, `unknown field "stide"`},
		{`{"input_shape": [1, 4, 4], "layers": [{"op": "maxpool2d"}]}`, "positive kernel"},
		{`{"input_shape": [1, 4, 4], "layers": [{"op": "maxpool2d", "kernel": 2, "padding": 2}]}`, "at most half the kernel"},
		{`{"input_shape": [2], "normalize": {"mean": [0, 0, 0], "std": [1]}, "layers": [{"op": "relu"}]}`, "normalize needs 1 or 2 values"},
		{`{"input_shape": [2], "normalize": {"mean": [0], "std": [0]}, "layers": [{"op": "relu"}]}`, "std 0 must be finite and nonzero"},
		{`{"input_shape": [2], "layers": [{"op": "relu", "bias": false}]}`, `"bias" applies only`},
		{`{"input_shape": [2], "layers": [{"op": "conv2d", "name": "c", "stride": [1, 2, 3]}]}`, "list of two integers"},
		{`{"input_shape": [2], "layers": [{"op": "relu"}]} {}`, "trailing data"},
		{`not json`, "arch:"},
	}
	for _, c := range cases {
		_, err := ParseArch([]byte(c.spec))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.spec, err, c.want)
		}
	}
}

func TestArchJSONRoundTrip(t *testing.T) {
	spec := `{"input_shape": [3, 8, 8], "input_scale": 0.5, "normalize": {"mean": [0.1], "std": [0.2]},
		"layers": [{"op": "conv2d", "name": "c", "kernel": [3, 1], "stride": 2, "padding": [1, 0], "bias": false},
		{"op": "batchnorm", "name": "bn", "eps": 0.001, "momentum": 0.2, "affine": false},
		{"op": "dropout", "p": 0.1}, {"op": "log_softmax"}]}`
	a := mustArch(t, spec)
	if a.Layers[0].Kernel != (Pair{3, 1}) || a.Layers[0].Stride != P2(2) || a.Layers[0].Padding != (Pair{1, 0}) {
		t.Fatalf("pairs: %+v", a.Layers[0])
	}
	b := mustArch(t, string(a.JSON()))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the spec:\n%+v\n%+v", a, b)
	}
	if !strings.Contains(string(a.JSON()), `"kernel":[3,1]`) || !strings.Contains(string(a.JSON()), `"stride":2`) {
		t.Errorf("JSON %s", a.JSON())
	}
}

func TestNewModelErrors(t *testing.T) {
	lin := arch("[2, 3]", `{"op": "flatten"}`, `{"op": "linear", "name": "fc1"}`)
	cases := []struct {
		name    string
		spec    string
		tensors map[string]Tensor
		want    []string
	}{
		{"missing", lin, map[string]Tensor{}, []string{`layer 1 (linear "fc1")`, `no tensor "fc1.weight"`, "[?, 6]"}},
		{"wrong shape", lin, map[string]Tensor{"fc1.weight": {Shape: []int{4, 5}, Data: make([]float32, 20)}},
			[]string{`tensor "fc1.weight" has shape [4, 5], want [?, 6]`, "input has 6 features"}},
		{"bias shape", lin, map[string]Tensor{"fc1.weight": {Shape: []int{4, 6}, Data: make([]float32, 24)}, "fc1.bias": {Shape: []int{5}, Data: make([]float32, 5)}},
			[]string{`tensor "fc1.bias" has shape [5], want [4]`}},
		{"short data", lin, map[string]Tensor{"fc1.weight": {Shape: []int{4, 6}, Data: make([]float32, 23)}, "fc1.bias": {Shape: []int{4}, Data: make([]float32, 4)}},
			[]string{`"fc1.weight"`, "holds 23"}},
		{"no flatten", arch("[2, 3]", `{"op": "linear", "name": "fc1"}`), nil, []string{"flat input", "flatten"}},
		{"conv kernel", arch("[1, 5, 5]", `{"op": "conv2d", "name": "c", "kernel": 3}`),
			map[string]Tensor{"c.weight": {Shape: []int{2, 1, 5, 5}, Data: make([]float32, 50)}}, []string{"want [?, 1, 3, 3]"}},
		{"conv channels", arch("[3, 5, 5]", `{"op": "conv2d", "name": "c"}`),
			map[string]Tensor{"c.weight": {Shape: []int{2, 1, 3, 3}, Data: make([]float32, 18)}}, []string{"want [?, 3, ?, ?]", "3 channels"}},
		{"conv too big", arch("[1, 2, 2]", `{"op": "conv2d", "name": "c", "bias": false}`),
			map[string]Tensor{"c.weight": {Shape: []int{2, 1, 3, 3}, Data: make([]float32, 18)}}, []string{"does not fit the 2x2 input"}},
		{"pool on flat", arch("[4]", `{"op": "maxpool2d", "kernel": 2}`), nil, []string{"[channels, height, width]"}},
		{"batchnorm", arch("[3]", `{"op": "batchnorm", "name": "bn"}`),
			map[string]Tensor{"bn.weight": {Shape: []int{3}, Data: make([]float32, 3)}, "bn.bias": {Shape: []int{3}, Data: make([]float32, 3)}},
			[]string{`no tensor "bn.running_mean" (want shape [3])`}},
	}
	for _, c := range cases {
		_, err := NewModel(mustArch(t, c.spec), c.tensors)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
}

// safetensorsBytes encodes float tensors (in the given dtype) and metadata.
func safetensorsBytes(t *testing.T, tensors map[string]Tensor, dt dtype.DType, meta map[string]string) []byte {
	t.Helper()
	var infos []ckpt.Info
	for _, name := range sortedKeys(tensors) {
		s := tensors[name].Shape
		shape := make([]int64, len(s))
		for i, d := range s {
			shape[i] = int64(d)
		}
		infos = append(infos, ckpt.Info{Name: name, DType: dt, Shape: shape})
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, infos, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		data := tensors[info.Name].Data
		b := make([]byte, len(data)*dt.Size())
		if dt.IsFloat() {
			if err := dtype.EncodeF32(b, data, dt); err != nil {
				t.Fatal(err)
			}
		} else {
			for i, v := range data {
				binary.LittleEndian.PutUint64(b[8*i:], uint64(int64(v)))
			}
		}
		if err := w.WriteTensor(info.Name, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sortedKeys(m map[string]Tensor) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func networkCase() opCase {
	for _, c := range opCases {
		if c.name == "network" {
			return c
		}
	}
	panic("no network case")
}

func TestLoadFromCheckpointWithArchMetadata(t *testing.T) {
	c := networkCase()
	a := mustArch(t, c.arch)
	rng := rand.New(rand.NewPCG(7, 7))
	t32, _ := randomTensors(rng, c.shapes, 0.5)
	t32["bn1.num_batches_tracked"] = Tensor{Shape: []int{}, Data: []float32{3}} // ignored
	file := safetensorsBytes(t, t32, dtype.BF16, map[string]string{MetadataKey: string(a.JSON())})
	src, err := ckpt.OpenReaderAt(bytes.NewReader(file), int64(len(file)), "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ArchOf(src)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(got, src)
	if err != nil {
		t.Fatal(err)
	}
	// The same weights rounded to bfloat16 in memory give the same outputs.
	rounded := map[string]Tensor{}
	for k, v := range t32 {
		d := make([]float32, len(v.Data))
		for i, x := range v.Data {
			d[i] = dtype.BF16ToF32(dtype.F32ToBF16(x))
		}
		rounded[k] = Tensor{Shape: v.Shape, Data: d}
	}
	want, err := NewModel(a, rounded)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*m.InputSize())
	for i := range x {
		x[i] = float32(rng.Float64())
	}
	y1, _ := m.Forward(x, 3)
	y2, _ := want.Forward(x, 3)
	if !reflect.DeepEqual(y1, y2) {
		t.Fatalf("loaded model differs: %v vs %v", y1, y2)
	}
	if len(m.Params()) != len(c.shapes) {
		t.Errorf("%d params, want %d (num_batches_tracked is not one)", len(m.Params()), len(c.shapes))
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	spec := mustArch(t, arch("[3]", `{"op": "linear", "name": "fc"}`))
	ints := map[string]Tensor{"fc.weight": {Shape: []int{2, 3}, Data: make([]float32, 6)}, "fc.bias": {Shape: []int{2}, Data: make([]float32, 2)}}
	file := safetensorsBytes(t, ints, dtype.I64, nil)
	src, err := ckpt.OpenReaderAt(bytes.NewReader(file), int64(len(file)), "ints.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(spec, src); err == nil || !strings.Contains(err.Error(), "ints.safetensors") || !strings.Contains(err.Error(), `"fc.weight" is I64`) {
		t.Errorf("integer weights: %v", err)
	}
	if _, err := ArchOf(src); err == nil || !strings.Contains(err.Error(), "--arch") {
		t.Errorf("no arch metadata: %v", err)
	}
	wrong := safetensorsBytes(t, map[string]Tensor{"fc.weight": {Shape: []int{2, 4}, Data: make([]float32, 8)}}, dtype.F32, nil)
	src, _ = ckpt.OpenReaderAt(bytes.NewReader(wrong), int64(len(wrong)), "wrong.safetensors")
	if _, err := Load(spec, src); err == nil || !strings.Contains(err.Error(), "wrong.safetensors") || !strings.Contains(err.Error(), "want [?, 3]") {
		t.Errorf("wrong shape: %v", err)
	}
}

// TestThreadsAndBatchesDoNotChangeResults: outputs and gradients are bit-identical
// whatever the number of goroutines, and a sample's output whatever batch it is in.
func TestThreadsAndBatchesDoNotChangeResults(t *testing.T) {
	c := networkCase()
	rng := rand.New(rand.NewPCG(3, 4))
	t32, _ := randomTensors(rng, c.shapes, 0.5)
	m, err := NewModel(mustArch(t, c.arch), t32)
	if err != nil {
		t.Fatal(err)
	}
	const n = 37
	x := make([]float32, n*m.InputSize())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	m.SetThreads(1)
	ref, _ := m.Forward(x, n)
	p, _ := m.Record(x, n, Eval)
	dout := make([]float32, len(p.Output()))
	for i := range dout {
		dout[i] = float32(rng.NormFloat64())
	}
	g1 := m.NewGrads()
	dx1, _ := p.Backward(dout, g1)
	for _, threads := range []int{2, 3, 8} {
		m.SetThreads(threads)
		got, _ := m.Forward(x, n)
		if !reflect.DeepEqual(got, ref) {
			t.Errorf("Forward with %d threads differs", threads)
		}
		p, _ := m.Record(x, n, Eval)
		g := m.NewGrads()
		dx, _ := p.Backward(dout, g)
		if !reflect.DeepEqual(dx, dx1) || !reflect.DeepEqual(g.data, g1.data) {
			t.Errorf("gradients with %d threads differ", threads)
		}
	}
	// Sample by sample, and in uneven pieces.
	k, in := m.OutputSize(), m.InputSize()
	for lo := 0; lo < n; lo += 5 {
		hi := min(lo+5, n)
		got, _ := m.Forward(x[lo*in:hi*in], hi-lo)
		if !reflect.DeepEqual(got, ref[lo*k:hi*k]) {
			t.Errorf("samples %d..%d differ when run on their own", lo, hi)
		}
	}
}

func TestConcurrentForward(t *testing.T) {
	c := networkCase()
	rng := rand.New(rand.NewPCG(5, 6))
	t32, _ := randomTensors(rng, c.shapes, 0.5)
	m, _ := NewModel(mustArch(t, c.arch), t32)
	x := make([]float32, 9*m.InputSize())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	want, _ := m.Forward(x, 9)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if got, err := m.Forward(x, 9); err != nil || !reflect.DeepEqual(got, want) {
					t.Error("concurrent Forward differs")
				}
			}
		}()
	}
	wg.Wait()
}

func TestForwardAndBackwardErrors(t *testing.T) {
	m, _ := NewModel(mustArch(t, arch("[3]", `{"op": "relu"}`)), nil)
	if _, err := m.Forward(make([]float32, 5), 2); err == nil || !strings.Contains(err.Error(), "want 6") {
		t.Errorf("short input: %v", err)
	}
	p, err := m.Record(make([]float32, 6), 2, Train)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Backward(make([]float32, 5), nil); err == nil {
		t.Error("short output gradient accepted")
	}
	other, _ := NewModel(mustArch(t, arch("[3]", `{"op": "relu"}`)), nil)
	if _, err := p.Backward(make([]float32, 6), other.NewGrads()); err == nil {
		t.Error("gradients of another model accepted")
	}
	bn, _ := NewModel(mustArch(t, arch("[2]", `{"op": "batchnorm", "name": "bn", "affine": false}`)), map[string]Tensor{
		"bn.running_mean": {Shape: []int{2}, Data: []float32{0, 0}}, "bn.running_var": {Shape: []int{2}, Data: []float32{1, 1}}})
	if _, err := bn.Record([]float32{1, 2}, 1, Train); err == nil || !strings.Contains(err.Error(), "more than one value per channel") {
		t.Errorf("training batchnorm on one sample: %v", err)
	}
}

func TestGradsAccumulate(t *testing.T) {
	c := opCases[0]
	rng := rand.New(rand.NewPCG(1, 2))
	t32, _ := randomTensors(rng, c.shapes, 1)
	m, _ := NewModel(mustArch(t, c.arch), t32)
	x := []float32{1, 2, 3, 4, 5, 6, 7}
	p, _ := m.Record(x, 1, Eval)
	dout := []float32{1, 0, -1, 0.5, 2}
	g := m.NewGrads()
	p.Backward(dout, g)
	once := append([]float32(nil), g.Of("fc.weight")...)
	p.Backward(dout, g)
	for i, v := range g.Of("fc.weight") {
		if v != 2*once[i] {
			t.Fatalf("second Backward did not add: %v vs 2×%v", v, once[i])
		}
	}
	g.Zero()
	if g.Of("fc.weight")[0] != 0 || g.Of("nope") != nil {
		t.Error("Zero or Of")
	}
}

func TestOutputKind(t *testing.T) {
	cases := map[string]OutputKind{
		arch("[3]", `{"op": "log_softmax"}`, `{"op": "dropout"}`): LogProbs,
		arch("[3]", `{"op": "softmax"}`, `{"op": "flatten"}`):     Probs,
		arch("[3]", `{"op": "softmax"}`, `{"op": "relu"}`):        Logits,
		arch("[3]", `{"op": "relu"}`):                             Logits,
	}
	for spec, want := range cases {
		m, err := NewModel(mustArch(t, spec), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.OutputKind(); got != want {
			t.Errorf("%s: %v, want %v", spec, got, want)
		}
	}
}

// TestCrossEntropy checks the loss against its definition and its gradient against
// central differences, for each kind of output.
func TestCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const n, k = 4, 5
	logits := make([]float64, n*k)
	for i := range logits {
		logits[i] = rng.NormFloat64()
	}
	labels := []int{0, 4, 2, 2}
	// The three views of the same distribution.
	view := func(kind OutputKind, z []float64) []float32 {
		out := make([]float32, len(z))
		for i := range n {
			row := z[i*k : (i+1)*k]
			s := 0.0
			for _, v := range row {
				s += math.Exp(v)
			}
			for j, v := range row {
				switch kind {
				case Logits:
					out[i*k+j] = float32(v)
				case Probs:
					out[i*k+j] = float32(math.Exp(v) / s)
				case LogProbs:
					out[i*k+j] = float32(v - math.Log(s))
				}
			}
		}
		return out
	}
	want := 0.0
	for i, y := range labels {
		s := 0.0
		for _, v := range logits[i*k : (i+1)*k] {
			s += math.Exp(v)
		}
		want += math.Log(s) - logits[i*k+y]
	}
	want /= n
	for _, kind := range []OutputKind{Logits, Probs, LogProbs} {
		out := view(kind, logits)
		grad := make([]float32, len(out))
		got, err := CrossEntropy(out, labels, kind, grad)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-6 {
			t.Errorf("%v: loss %v, want %v", kind, got, want)
		}
		// Gradient with respect to the output values, by central differences.
		o64 := make([]float64, len(out))
		for i, v := range out {
			o64[i] = float64(v)
		}
		f := func() float64 {
			s := 0.0
			for i, y := range labels {
				row := o64[i*k : (i+1)*k]
				switch kind {
				case LogProbs:
					s -= row[y]
				case Probs:
					s -= math.Log(row[y])
				case Logits:
					z := 0.0
					for _, v := range row {
						z += math.Exp(v)
					}
					s += math.Log(z) - row[y]
				}
			}
			return s / n
		}
		for i := range o64 {
			old := o64[i]
			o64[i] = old + 1e-6
			lp := f()
			o64[i] = old - 1e-6
			lm := f()
			o64[i] = old
			if d := (lp - lm) / 2e-6; math.Abs(float64(grad[i])-d) > 1e-5*math.Max(1, math.Abs(d)) {
				t.Errorf("%v: gradient[%d] = %v, central difference %v", kind, i, grad[i], d)
			}
		}
	}
	if _, err := CrossEntropy(make([]float32, 10), []int{0, 7}, Logits, nil); err == nil {
		t.Error("label outside the classes accepted")
	}
}

// TestMatmul checks every product path against float64 loops, on sizes that leave
// partial row blocks and column panels.
func TestMatmul(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	for _, sz := range [][3]int{{1, 1, 1}, {4, 16, 3}, {5, 17, 9}, {7, 33, 1}, {24, 484, 144}, {3, 40, 70}} {
		m, n, k := sz[0], sz[1], sz[2]
		ld := padCols(n)
		a, b := randSlice(rng, m*k), randSlice(rng, k*ld)
		bt := randSlice(rng, n*k) // B stored [n, k] for NT
		at := randSlice(rng, k*m) // A stored [k, m] for TN
		want := func(get func(i, j, l int) float64) []float64 {
			w := make([]float64, m*n)
			for i := range m {
				for j := range n {
					for l := range k {
						w[i*n+j] += get(i, j, l)
					}
				}
			}
			return w
		}
		check := func(name string, c []float32, ldc int, w []float64) {
			for i := range m {
				for j := range n {
					if d := math.Abs(float64(c[i*ldc+j]) - w[i*n+j]); d > 1e-5*math.Max(1, math.Abs(w[i*n+j])) {
						t.Fatalf("%s %v: C[%d,%d] = %v, want %v", name, sz, i, j, c[i*ldc+j], w[i*n+j])
					}
				}
			}
		}
		nn := want(func(i, j, l int) float64 { return float64(a[i*k+l]) * float64(b[l*ld+j]) })
		// matmul, with bias and relu, on both paths; rows read B through offsets.
		bias := randSlice(rng, m)
		rows := make([]int32, k)
		plane := randSlice(rng, 3*k+ld)
		for l := range rows {
			rows[l] = int32(rng.IntN(3*k + 1))
		}
		viaRows := want(func(i, j, l int) float64 { return float64(a[i*k+l]) * float64(plane[int(rows[l])+j]) })
		act := func(w []float64, relu bool) []float64 {
			out := make([]float64, len(w))
			for i := range m {
				for j := range n {
					v := w[i*n+j] + float64(bias[i])
					if relu {
						v = math.Max(v, 0)
					}
					out[i*n+j] = v
				}
			}
			return out
		}
		for _, kern := range []bool{false, useKernel} {
			saved := useKernel
			useKernel = kern
			for _, relu := range []bool{false, true} {
				c := make([]float32, m*ld)
				matmul(m, n, k, a, k, b, ld, nil, c, ld, nil, false)
				check("matmul", c, ld, nn)
				matmul(m, n, k, a, k, b, ld, nil, c, ld, bias, relu)
				check("matmul+bias", c, ld, act(nn, relu))
				matmul(m, n, k, a, k, plane, 0, rows, c, ld, bias, relu)
				check("matmul rows", c, ld, act(viaRows, relu))
			}
			useKernel = saved
		}
		c := make([]float32, m*n)
		gemmNN(m, n, k, a, k, b, ld, c, n, false)
		check("gemmNN", c, n, nn)
		gemmNT(m, n, k, a, k, bt, k, c, n, false)
		check("gemmNT", c, n, want(func(i, j, l int) float64 { return float64(a[i*k+l]) * float64(bt[j*k+l]) }))
		gemmTN(m, n, k, at, m, b, ld, c, n, false)
		check("gemmTN", c, n, want(func(i, j, l int) float64 { return float64(at[l*m+i]) * float64(b[l*ld+j]) }))
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}
