package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"ladle/core/nn"
)

// toyArch is a linear classifier over 4 features with the given final op ("" for none).
func toyArch(t testing.TB, final string) *nn.Arch {
	t.Helper()
	spec := `{"input_shape": [4], "input_scale": 0.5, "layers": [{"op": "linear", "name": "fc"}`
	if final != "" {
		spec += `, {"op": "` + final + `"}`
	}
	a, err := nn.ParseArch([]byte(spec + "]}"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func toyTensors(rng *rand.Rand, scale float64) map[string]nn.Tensor {
	w, b := make([]float32, 12), make([]float32, 3)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * scale)
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64() * scale)
	}
	return map[string]nn.Tensor{"fc.weight": {Shape: []int{3, 4}, Data: w}, "fc.bias": {Shape: []int{3}, Data: b}}
}

func toyData(rng *rand.Rand, n int) *Dataset {
	x := make([]float32, n*4)
	y := make([]int, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = rng.IntN(3)
	}
	d, err := NewDataset([]int{4}, x, y)
	if err != nil {
		panic(err)
	}
	return d
}

// toyReference scores the toy classifier straight from its definition, in float64.
func toyReference(ts map[string]nn.Tensor, d *Dataset) (acc, loss float64) {
	w, b := ts["fc.weight"].Data, ts["fc.bias"].Data
	correct := 0
	for i := range d.Len() {
		z := make([]float64, 3)
		for o := range 3 {
			z[o] = float64(b[o])
			for f := range 4 {
				z[o] += float64(w[o*4+f]) * 0.5 * float64(d.F32[i*4+f])
			}
		}
		best := 0
		lse := 0.0
		for o := range 3 {
			if z[o] > z[best] {
				best = o
			}
			lse += math.Exp(z[o])
		}
		if best == d.Labels[i] {
			correct++
		}
		loss += math.Log(lse) - z[d.Labels[i]]
	}
	return float64(correct) / float64(d.Len()), loss / float64(d.Len())
}

// TestEvaluateMatchesDefinition: whatever the model ends in (logits, softmax,
// log_softmax), the loss is the NLL of the same distribution, and batch sizes do not
// change a bit of the result.
func TestEvaluateMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ts := toyTensors(rng, 1)
	d := toyData(rng, 101)
	wantAcc, wantLoss := toyReference(ts, d)
	for _, final := range []string{"", "softmax", "log_softmax"} {
		m, err := nn.NewModel(toyArch(t, final), ts)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Evaluate(m, d, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.N != 101 || r.Accuracy != wantAcc || math.Abs(r.Loss-wantLoss) > 1e-5 {
			t.Errorf("final %q: %+v, want accuracy %v loss %v", final, r, wantAcc, wantLoss)
		}
		for _, batch := range []int{1, 7, 1000} {
			if r2, _ := Evaluate(m, d, batch); r2 != r {
				t.Errorf("final %q, batch %d: %+v, want %+v", final, batch, r2, r)
			}
		}
	}
}

func TestEvaluateBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	ts := toyTensors(rng, 0.1)
	u8 := &Dataset{Shape: []int{2, 2}, U8: []uint8{0, 10, 200, 255, 3, 4, 5, 6}, Labels: []int{2, 1}}
	f := &Dataset{Shape: []int{4}, F32: []float32{0, 10, 200, 255, 3, 4, 5, 6}, Labels: []int{2, 1}}
	m, _ := nn.NewModel(toyArch(t, "log_softmax"), ts)
	r1, err1 := Evaluate(m, u8, 0)
	r2, err2 := Evaluate(m, f, 0)
	if err1 != nil || err2 != nil || r1 != r2 {
		t.Errorf("U8 %+v %v, F32 %+v %v", r1, err1, r2, err2)
	}
}

func TestEvaluateErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	ts := toyTensors(rng, 1)
	m, _ := nn.NewModel(toyArch(t, ""), ts)
	d := toyData(rng, 10)
	d.Source = "data.safetensors"
	d.Labels[6] = 3
	if _, err := Evaluate(m, d, 0); err == nil || !strings.Contains(err.Error(), "data.safetensors: label y[6] = 3") || !strings.Contains(err.Error(), "3 outputs") {
		t.Errorf("label out of range: %v", err)
	}
	wide := &Dataset{Source: "wide.safetensors", Shape: []int{5}, F32: make([]float32, 5), Labels: []int{0}}
	if _, err := Evaluate(m, wide, 0); err == nil || !strings.Contains(err.Error(), "wide.safetensors") || !strings.Contains(err.Error(), "takes 4") {
		t.Errorf("feature mismatch: %v", err)
	}
	ts["fc.bias"].Data[1] = float32(math.NaN())
	d.Labels[6] = 0
	if _, err := Evaluate(m, d, 0); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("NaN output: %v", err)
	}
	img, _ := nn.ParseArch([]byte(`{"input_shape": [1, 2, 2], "layers": [{"op": "relu"}]}`))
	im, _ := nn.NewModel(img, nil)
	if _, err := Evaluate(im, &Dataset{Shape: []int{4}, F32: make([]float32, 4), Labels: []int{0}}, 0); err == nil || !strings.Contains(err.Error(), "one score per class") {
		t.Errorf("image-shaped output: %v", err)
	}
}

func TestArgmax(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		row  []float32
		want int
	}{{[]float32{1, 3, 3}, 1}, {[]float32{nan, 0, -1}, 1}, {[]float32{-1, nan, -2}, 0}, {[]float32{2}, 0}}
	for _, c := range cases {
		if got := argmax(c.row); got != c.want {
			t.Errorf("argmax %v = %d, want %d", c.row, got, c.want)
		}
	}
}
