package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"ladle/core/nn"
)

func TestBarrier(t *testing.T) {
	// L(α) = 1 + α + 0.5·sin(πα): the chord from L(0) = 1 to L(1) = 2 is 1 + α, so
	// the gap is 0.5·sin(πα), largest (0.5) at α = 0.5.
	var pts []Point
	for i := range 11 {
		a := float64(i) / 10
		pts = append(pts, Point{Alpha: a, Loss: 1 + a + 0.5*math.Sin(math.Pi*a)})
	}
	b, at := Barrier(pts)
	if math.Abs(b-0.5) > 1e-12 || at != 0.5 {
		t.Errorf("barrier %v at %v, want 0.5 at 0.5", b, at)
	}
	// Order does not matter.
	rev := append([]Point(nil), pts...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if b2, at2 := Barrier(rev); b2 != b || at2 != at {
		t.Errorf("reversed: %v at %v", b2, at2)
	}
	// A convex path has no barrier.
	for i := range pts {
		a := pts[i].Alpha
		pts[i].Loss = 2 - a + a*a
	}
	if b, _ := Barrier(pts); b != 0 {
		t.Errorf("convex path: barrier %v", b)
	}
}

func TestInterpolate(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	a, b := toyTensors(rng, 1), toyTensors(rng, 1)
	d := toyData(rng, 50)
	arch := toyArch(t, "log_softmax")
	c, err := Interpolate(arch, a, b, d, Options{Points: 11})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Points) != 11 || c.Points[0].Alpha != 0 || c.Points[10].Alpha != 1 || c.Points[5].Alpha != 0.5 {
		t.Fatalf("grid %+v", c.Points)
	}
	score := func(ts map[string]nn.Tensor) Result {
		m, err := nn.NewModel(arch, ts)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Evaluate(m, d, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ra, rb := score(a), score(b)
	if c.Points[0].Loss != ra.Loss || c.Points[0].Accuracy != ra.Accuracy || c.Points[10].Loss != rb.Loss || c.Points[10].Accuracy != rb.Accuracy {
		t.Errorf("ends %+v %+v, want %+v %+v", c.Points[0], c.Points[10], ra, rb)
	}
	// α = 0.3 by hand.
	mid := map[string]nn.Tensor{}
	for name, ta := range a {
		data := make([]float32, len(ta.Data))
		for i := range data {
			data[i] = float32(0.7*float64(ta.Data[i]) + 0.3*float64(b[name].Data[i]))
		}
		mid[name] = nn.Tensor{Shape: ta.Shape, Data: data}
	}
	if r := score(mid); math.Abs(r.Loss-c.Points[3].Loss) > 1e-12 || r.Accuracy != c.Points[3].Accuracy {
		t.Errorf("α = 0.3: %+v, want %+v", c.Points[3], r)
	}
	if bar, at := Barrier(c.Points); bar != c.Barrier || at != c.BarrierAlpha || bar < 0 {
		t.Errorf("barrier %v at %v, curve says %v at %v", bar, at, c.Barrier, c.BarrierAlpha)
	}

	if _, err := Interpolate(arch, a, b, d, Options{Points: 10}); err == nil || !strings.Contains(err.Error(), "at least 11") {
		t.Errorf("10 points: %v", err)
	}
	other := map[string]nn.Tensor{"fc.weight": {Shape: []int{2, 4}, Data: make([]float32, 8)}, "fc.bias": {Shape: []int{2}, Data: make([]float32, 2)}}
	if _, err := Interpolate(arch, a, other, d, Options{Points: 11}); err == nil || !strings.Contains(err.Error(), `"fc.weight" has shape [3 4] in model A but [2 4] in model B`) {
		t.Errorf("shape mismatch: %v", err)
	}
	if _, err := Interpolate(arch, a, map[string]nn.Tensor{}, d, Options{Points: 11}); err == nil || !strings.Contains(err.Error(), "model B") {
		t.Errorf("missing tensors: %v", err)
	}
}

func TestAverage(t *testing.T) {
	a := map[string]nn.Tensor{"w": {Shape: []int{2}, Data: []float32{1, 2}}, "only_a": {Shape: []int{1}, Data: []float32{1}}}
	b := map[string]nn.Tensor{"w": {Shape: []int{2}, Data: []float32{3, -2}}}
	avg, err := Average(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(avg) != 1 || avg["w"].Data[0] != 2 || avg["w"].Data[1] != 0 {
		t.Errorf("average %+v", avg)
	}
	b["w"] = nn.Tensor{Shape: []int{1, 2}, Data: []float32{3, -2}}
	if _, err := Average(a, b); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("shape mismatch: %v", err)
	}
}
