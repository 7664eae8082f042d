package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"ladle/core/nn"
)

// MinPoints is the smallest interpolation grid METHODS.md allows.
const MinPoints = 11

// Point is one model on the path from A to B: θ(α) = (1 − α)·θA + α·θB.
type Point struct {
	Alpha    float64 `json:"alpha"`
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"`
}

// Curve is the loss and accuracy along the linear path between two models.
type Curve struct {
	Points []Point `json:"points"`
	// Barrier is max over α of L(α) − ((1 − α)·L(0) + α·L(1)): how far the loss rises
	// above the straight line between the ends (0 when it never does).
	Barrier float64 `json:"barrier"`
	// BarrierAlpha is the α where that maximum is reached (the first one on ties).
	BarrierAlpha float64 `json:"barrier_alpha"`
}

// DefaultPoints is the grid Interpolate uses when Options.Points is 0.
const DefaultPoints = 21

// Options tune Interpolate; zero values mean the defaults.
type Options struct {
	// Points on the grid, both ends included: 0 means DefaultPoints; fewer than
	// MinPoints is an error.
	Points int
	// Batch is Evaluate's batch size (0: DefaultBatch).
	Batch int
	// Threads bounds the goroutines of each forward pass (0: GOMAXPROCS).
	Threads int
	// Exact evaluates in nn's exact mode: the same bits on every platform.
	Exact bool
}

// Interpolate evaluates the models θ(α) = (1 − α)·θA + α·θB for α = i/(points − 1),
// i = 0 … points − 1, every tensor the arch reads mixed alike (batchnorm running
// statistics included), and returns the curve and its loss barrier as METHODS.md
// defines them.
func Interpolate(arch *nn.Arch, a, b map[string]nn.Tensor, d *Dataset, opt Options) (*Curve, error) {
	points := opt.Points
	if points == 0 {
		points = DefaultPoints
	}
	if points < MinPoints {
		return nil, fmt.Errorf("an interpolation curve needs at least %d points (both ends included), got %d", MinPoints, points)
	}
	ma, err := nn.NewModel(arch, a)
	if err != nil {
		return nil, fmt.Errorf("model A: %w", err)
	}
	if _, err := nn.NewModel(arch, b); err != nil {
		return nil, fmt.Errorf("model B: %w", err)
	}
	mix := map[string]nn.Tensor{}
	for _, p := range ma.Params() {
		tb := b[p.Name]
		if !slices.Equal(p.Shape, tb.Shape) {
			return nil, fmt.Errorf("tensor %q has shape %v in model A but %v in model B; only models of one shape can be interpolated", p.Name, p.Shape, tb.Shape)
		}
		mix[p.Name] = nn.Tensor{Shape: p.Shape, Data: make([]float32, len(p.Data))}
	}
	model, err := nn.NewModel(arch, mix) // shares mix's storage: refilled for each α
	if err != nil {
		return nil, err
	}
	model.SetThreads(opt.Threads)
	model.SetExact(opt.Exact)
	if err := Compatible(model, d); err != nil {
		return nil, err
	}
	c := &Curve{}
	for i := range points {
		alpha := float64(i) / float64(points-1)
		for name, t := range mix {
			lerp(t.Data, a[name].Data, b[name].Data, alpha)
		}
		r, err := Evaluate(model, d, opt.Batch)
		if err != nil {
			return nil, fmt.Errorf("α = %g: %w", alpha, err)
		}
		c.Points = append(c.Points, Point{Alpha: alpha, Loss: r.Loss, Accuracy: r.Accuracy})
	}
	c.Barrier, c.BarrierAlpha = Barrier(c.Points)
	return c, nil
}

// lerp sets dst = (1 − α)·a + α·b, in float64 so that α = 0 and α = 1 give a and b exactly.
func lerp(dst, a, b []float32, alpha float64) {
	for i := range dst {
		dst[i] = float32(float64((1-alpha)*float64(a[i])) + float64(alpha*float64(b[i]))) // no FMA: wasm has none
	}
}

// Barrier is max over the points of L(α) − ((1 − α)·L(0) + α·L(1)), where L(0) and
// L(1) are the losses of the points with the smallest and largest α, and the α where
// it is reached. The ends contribute 0, so it is never negative.
func Barrier(points []Point) (barrier, alpha float64) {
	if len(points) == 0 {
		return math.NaN(), math.NaN()
	}
	ps := append([]Point(nil), points...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Alpha < ps[j].Alpha })
	first, last := ps[0], ps[len(ps)-1]
	alpha = first.Alpha
	for _, p := range ps {
		t := 0.0
		if last.Alpha > first.Alpha {
			t = (p.Alpha - first.Alpha) / (last.Alpha - first.Alpha)
		}
		if gap := p.Loss - (float64((1-t)*first.Loss) + float64(t*last.Loss)); gap > barrier {
			barrier, alpha = gap, p.Alpha
		}
	}
	return barrier, alpha
}

// Average is the uniform average of models given as tensor maps (a uniform soup),
// over the tensors they all hold, computed in float64 per element. Tensors whose
// shapes differ between models are an error naming the tensor.
func Average(models ...map[string]nn.Tensor) (map[string]nn.Tensor, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("no models to average")
	}
	out := map[string]nn.Tensor{}
	for name, t := range models[0] {
		acc := make([]float64, len(t.Data))
		ok := true
		for i, m := range models {
			u, have := m[name]
			if !have {
				ok = false
				break
			}
			if !slices.Equal(t.Shape, u.Shape) || len(u.Data) != len(t.Data) {
				return nil, fmt.Errorf("tensor %q has shape %v in model 0 but %v in model %d", name, t.Shape, u.Shape, i)
			}
			for j, v := range u.Data {
				acc[j] += float64(v)
			}
		}
		if !ok {
			continue
		}
		data := make([]float32, len(acc))
		for j, v := range acc {
			data[j] = float32(v / float64(len(models)))
		}
		out[name] = nn.Tensor{Shape: append([]int(nil), t.Shape...), Data: data}
	}
	return out, nil
}
