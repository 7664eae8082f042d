package merge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"ladle/core/compute"
)

// TestComputeBackendGivesCPUBytes runs every method with the GPU kernels' executable
// model (compute.Emulator) as Job.Compute and checks that the output bits are the CPU's:
// on the golden inputs, and for the kernels the GPU takes (uniform soups, TIES
// selection) on data with zeros, ties, subnormals, NaN and Inf.
func TestComputeBackendGivesCPUBytes(t *testing.T) {
	const rows, cols = 24, 700
	n := rows * cols
	base := goldenInput(99, n, nil, 1)
	for _, m := range All() {
		var models [][]float32
		for i := range modelsFor(m) {
			models = append(models, goldenInput(i, n, base, 0.1))
		}
		run := func(c compute.Merger) []float32 {
			j := jobFor(m, "golden.weight", base, models)
			j.Shape = []int64{rows, cols}
			j.Seed = 7
			j.Compute = c
			return mergeOK(t, m.Name, j)
		}
		assertEqual(t, m.Name, run(&compute.Emulator{}), run(nil))
	}

	r := rand.New(rand.NewPCG(5, 5))
	for _, nm := range []int{1, 2, 3, 4, 5, 8} {
		for _, hard := range []bool{false, true} {
			models := make([][]float32, nm)
			for i := range models {
				models[i] = randT(r, 20000)
				if hard {
					for c := range models[i] {
						if r.IntN(50) == 0 {
							models[i][c] = hardValue(r)
						}
					}
				}
			}
			for _, norm := range []bool{true, false} {
				cm := &compute.Emulator{}
				mk := func(c compute.Merger) *Job {
					return &Job{Tensor: "x", Models: models, Params: mp("normalize", norm), Compute: c, Options: Options{AllowNonFinite: true}}
				}
				got := mergeOK(t, "linear", mk(cm))
				assertEqual(t, "linear", got, mergeOK(t, "linear", mk(nil)))
				if cm.Sums != 1 {
					t.Errorf("%d models, normalize %v: the backend ran %d unit sums, want 1", nm, norm, cm.Sums)
				}
			}
		}
	}

	// Weighted soups whose weights are all the same power of two (WiSE-FT at α = ½)
	// take the unit sum too, scaled exactly; any other weights stay on the CPU.
	for _, ws := range [][]float64{{0.5, 0.5}, {0.25, 0.25, 0.25}, {2, 2, 2, 2, 2}, {0.7, 0.7}, {0.5, 0.25}, {-0.5, -0.5}} {
		models := make([][]float32, len(ws))
		for i := range models {
			models[i] = randT(r, 20000)
			for c := range models[i] {
				if r.IntN(50) == 0 {
					models[i][c] = hardValue(r)
				}
			}
		}
		frac, _ := math.Frexp(ws[0])
		equalPow2 := frac == 0.5
		for _, w := range ws[1:] {
			equalPow2 = equalPow2 && w == ws[0]
		}
		for _, norm := range []bool{true, false} {
			cm := &compute.Emulator{}
			mk := func(c compute.Merger) *Job {
				per := make([]Params, len(ws))
				for i, w := range ws {
					per[i] = mp("weight", w)
				}
				return &Job{Tensor: "x", Models: models, Params: mp("normalize", norm), ModelParams: per, Compute: c, Options: Options{AllowNonFinite: true}}
			}
			name := fmt.Sprintf("linear weights %v normalize %v", ws, norm)
			assertEqual(t, name, mergeOK(t, "linear", mk(cm)), mergeOK(t, "linear", mk(nil)))
			if (cm.Sums == 1) != equalPow2 {
				t.Errorf("%s: the backend ran %d unit sums", name, cm.Sums)
			}
		}
	}

	// WiSE-FT at α = ½ is ½·(z + f), the unit sum's form; other alphas stay on the CPU.
	for _, alpha := range []float64{0.5, 0.3, 0, 1} {
		models := [][]float32{randT(r, 20000), randT(r, 20000)}
		for c := range models[1] {
			if r.IntN(50) == 0 {
				models[1][c] = hardValue(r)
			}
		}
		cm := &compute.Emulator{}
		mk := func(c compute.Merger) *Job {
			return &Job{Tensor: "x", Models: models, Params: mp("alpha", alpha), Compute: c, Options: Options{AllowNonFinite: true}}
		}
		name := fmt.Sprintf("wise_ft alpha %v", alpha)
		assertEqual(t, name, mergeOK(t, "wise_ft", mk(cm)), mergeOK(t, "wise_ft", mk(nil)))
		if (cm.Sums == 1) != (alpha == 0.5) {
			t.Errorf("%s: the backend ran %d unit sums", name, cm.Sums)
		}
	}

	// TIES: the backend counts the selection histograms of tensors above the sorting
	// size; a tensor whose base holds a subnormal is declined and counted on the CPU.
	for _, poison := range []bool{false, true} {
		b := randT(r, 30000)
		models := [][]float32{near(r, b, 0.01), near(r, b, 0.01), tiedT(r, 30000)}
		if poison {
			b[17] = math.Float32frombits(3) // in the base: every model's deltas
		}
		cm := &compute.Emulator{}
		mk := func(c compute.Merger) *Job {
			return &Job{Tensor: "x", Base: b, Models: models, Params: mp("density", 0.3), Compute: c}
		}
		assertEqual(t, "ties", mergeOK(t, "ties", mk(cm)), mergeOK(t, "ties", mk(nil)))
		if want := !poison; (cm.Hist > 0) != want {
			t.Errorf("poisoned %v: backend histograms %d", poison, cm.Hist)
		}
		if cm.Ties != 1 {
			t.Errorf("poisoned %v: the backend ran %d TIES sums, want 1", poison, cm.Ties)
		}
	}

	// TIES' sign election and disjoint sums on the backend (weights 1): models with
	// zeros, equal magnitudes, opposite signs, subnormals, NaN and Inf, every density
	// and both normalize settings and trim scopes, models weighted 1 or ½ (a power of
	// two: exact scaling); the weights 0.7 stay on the CPU.
	for _, hard := range []bool{false, true} {
		b := randT(r, 5000)
		models := [][]float32{near(r, b, 0.01), near(r, b, 0.01), tiedT(r, 5000), near(r, b, 0.001)}
		copy(models[3][:100], models[0][:100]) // equal deltas: ties of the trim and of the vote
		for c := 100; c < 200; c++ {
			models[2][c] = 2*b[c] - models[0][c] // opposite deltas
		}
		if hard {
			for i := range models {
				for c := range models[i] {
					if r.IntN(40) == 0 {
						models[i][c] = hardValue(r)
					}
				}
			}
		}
		for _, density := range []float64{1, 0.5, 0.1, 0} {
			for _, norm := range []bool{true, false} {
				for _, w := range []float64{1, 0.5, 0.7} {
					cm := &compute.Emulator{}
					mk := func(c compute.Merger) *Job {
						return &Job{Tensor: "x", Base: b, Models: models, Params: mp("density", density, "normalize", norm, "weight", w, "lambda", 0.9),
							Compute: c, Options: Options{AllowNonFinite: true}}
					}
					name := fmt.Sprintf("ties hard %v density %v normalize %v weight %v", hard, density, norm, w)
					assertEqual(t, name, mergeOK(t, "ties", mk(cm)), mergeOK(t, "ties", mk(nil)))
					if (cm.Ties == 1) != (w != 0.7) {
						t.Errorf("%s: the backend ran %d TIES sums", name, cm.Ties)
					}
					if hard && w != 0.7 && density > 0 && cm.TiesFlagged == 0 {
						t.Errorf("%s: no element was left to the CPU", name)
					}
				}
			}
		}
		// task arithmetic: the task-vector sum on the backend (weights 1 or ½)
		for _, norm := range []bool{true, false} {
			for _, w := range []float64{1, 0.5, 0.7} {
				cm := &compute.Emulator{}
				mk := func(c compute.Merger) *Job {
					return &Job{Tensor: "x", Base: b, Models: models, Params: mp("normalize", norm, "weight", w, "lambda", -0.7),
						Compute: c, Options: Options{AllowNonFinite: true}}
				}
				name := fmt.Sprintf("task_arithmetic hard %v normalize %v weight %v", hard, norm, w)
				assertEqual(t, name, mergeOK(t, "task_arithmetic", mk(cm)), mergeOK(t, "task_arithmetic", mk(nil)))
				if (cm.Tasks == 1) != (w != 0.7) {
					t.Errorf("%s: the backend ran %d task sums", name, cm.Tasks)
				}
				if hard && w != 0.7 && cm.TiesFlagged == 0 {
					t.Errorf("%s: no element was left to the CPU", name)
				}
			}
		}
	}
}

func hardValue(r *rand.Rand) float32 {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return float32(math.Copysign(0, -1))
	case 2:
		return math.Float32frombits(uint32(1 + r.IntN(1<<23-1)))
	case 3:
		return float32(math.NaN())
	case 4:
		return float32(math.Inf(1))
	}
	return float32(math.Ldexp(1, r.IntN(200)-100))
}
