package merge

import (
	"math"
	"math/rand/v2"
	"testing"

	"ladle/core/tensor"
)

func TestModelStockHand(t *testing.T) {
	base := f32(1, 1)
	// o1 = (2,0), o2 = (1,1): cos = 2/(2·√2) = 1/√2, t = 2cos/(1+cos).
	j := &Job{Tensor: "w", Base: base, Models: [][]float32{f32(3, 1), f32(2, 2)}}
	c := 1 / math.Sqrt2
	tt := 2 * c / (1 + c)
	want := f32(tt*2.5+(1-tt)*1, tt*1.5+(1-tt)*1)
	assertClose(t, "angle", mergeOK(t, "model_stock", j), want, 1e-6, 0)
	// Orthogonal task vectors: cos 0, t 0 → the base.
	j = &Job{Tensor: "w", Base: base, Models: [][]float32{f32(2, 1), f32(1, 2)}}
	assertEqual(t, "orthogonal", mergeOK(t, "model_stock", j), base)
	// Parallel: cos 1, t 1 → the mean.
	j = &Job{Tensor: "w", Base: base, Models: [][]float32{f32(2, 2), f32(3, 3)}}
	assertClose(t, "parallel", mergeOK(t, "model_stock", j), f32(2.5, 2.5), 1e-7, 0)
	// A zero task vector: cos 0 (norm guard), t 0 → the base.
	j = &Job{Tensor: "w", Base: base, Models: [][]float32{f32(1, 1), f32(4, 5)}}
	assertEqual(t, "zero vector", mergeOK(t, "model_stock", j), base)
	// Opposite task vectors with N = 2: 1 + cos = 0 is an error naming the tensor.
	j = &Job{Tensor: "w", Base: base, Models: [][]float32{f32(2, 2), f32(0, 0)}}
	mergeErr(t, "model_stock", j, "divides by zero")
	// One model is not enough.
	mergeErr(t, "model_stock", &Job{Tensor: "w", Base: base, Models: [][]float32{f32(2, 2)}}, "at least 2")
	// filter_wise: row 0 parallel (t = 1), row 1 orthogonal (t = 0).
	j = &Job{Tensor: "w", Shape: []int64{2, 2}, Base: f32(0, 0, 0, 0), Models: [][]float32{f32(1, 1, 1, 0), f32(3, 3, 0, 1)},
		Params: mp("filter_wise", true)}
	assertClose(t, "filter_wise", mergeOK(t, "model_stock", j), f32(2, 2, 0, 0), 1e-7, 0)
	j.Models[1] = f32(3, 3, -1, 0)
	mergeErr(t, "model_stock", j, "row 1")
}

func TestModelStockAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 20))
	for _, shape := range [][]int64{{5}, {10000}, {30, 200}} {
		n := 1
		for _, s := range shape {
			n *= int(s)
		}
		base := randT(r, n)
		common := near(r, base, 0.1)
		models := [][]float32{near(r, common, 0.05), near(r, common, 0.05), near(r, common, 0.05)}
		j := &Job{Tensor: "w", Shape: shape, Base: base, Models: models}
		assertClose(t, "model_stock", mergeOK(t, "model_stock", j), refModelStock(base, models, n), 1e-6, 1e-7)
		if len(shape) == 2 {
			j.Params = mp("filter_wise", true)
			assertClose(t, "filter_wise", mergeOK(t, "model_stock", j), refModelStock(base, models, int(shape[1])), 1e-6, 1e-7)
		}
	}
}

func TestSlerp(t *testing.T) {
	// Orthogonal unit vectors at t = 0.5: Ω = π/2, both coefficients sin(π/4).
	j := &Job{Tensor: "w", Base: f32(1, 0), Models: [][]float32{f32(0, 1)}, Params: mp("t", 0.5)}
	s := math.Sin(math.Pi / 4)
	assertClose(t, "orthogonal", mergeOK(t, "slerp", j), f32(s, s), 1e-7, 0)
	// Parallel: linear fallback.
	j = &Job{Tensor: "w", Base: f32(1, 2), Models: [][]float32{f32(2, 4)}, Params: mp("t", 0.25)}
	assertEqual(t, "parallel", mergeOK(t, "slerp", j), f32(1.25, 2.5))
	// Antiparallel: |cos| > 0.9995 also falls back to linear.
	j = &Job{Tensor: "w", Base: f32(1, 2), Models: [][]float32{f32(-1, -2)}, Params: mp("t", 0.5)}
	assertEqual(t, "antiparallel", mergeOK(t, "slerp", j), f32(0, 0))
	// A zero vector is not normalised (norm guard): cos 0, Ω = π/2.
	j = &Job{Tensor: "w", Base: f32(0, 0), Models: [][]float32{f32(3, 4)}, Params: mp("t", 0.5)}
	assertClose(t, "zero vector", mergeOK(t, "slerp", j), f32(3*s, 4*s), 1e-7, 0)
	mergeErr(t, "slerp", &Job{Tensor: "w", Base: f32(0), Models: [][]float32{f32(1)}}, "\"t\" is required")
	mergeErr(t, "slerp", &Job{Tensor: "w", Base: f32(0), Models: [][]float32{f32(1), f32(2)}, Params: mp("t", 0.5)}, "at most 1")

	r := rand.New(rand.NewPCG(21, 21))
	for _, n := range []int{3, 5000, 12345} {
		v0, v1 := randT(r, n), randT(r, n)
		for _, tt := range []float64{0, 0.3, 0.5, 1} {
			j := &Job{Tensor: "w", Base: v0, Models: [][]float32{v1}, Params: mp("t", tt)}
			got := mergeOK(t, "slerp", j)
			assertClose(t, "slerp", got, refSlerp(v0, v1, tt), 1e-6, 1e-7)
			if tt == 0 {
				assertEqual(t, "t=0", got, v0)
			}
			if tt == 1 {
				assertEqual(t, "t=1", got, v1)
			}
		}
		// Nearly parallel inputs take the linear branch at the endpoints too.
		w := near(r, v0, 1e-4)
		assertEqual(t, "near t=0", mergeOK(t, "slerp", &Job{Tensor: "w", Base: v0, Models: [][]float32{w}, Params: mp("t", 0)}), v0)
		assertEqual(t, "near t=1", mergeOK(t, "slerp", &Job{Tensor: "w", Base: v0, Models: [][]float32{w}, Params: mp("t", 1)}), w)
	}
}

func TestNearswap(t *testing.T) {
	// |d| = 0.05 → w = 1; |d| = 1 → w = 0.1; |d| = 0.2 → w = 0.5; |d| = 0 → w = 1.
	j := &Job{Tensor: "w", Base: f32(0, 0, 0, 2), Models: [][]float32{f32(0.05, 1, -0.2, 2)}, Params: mp("t", 0.1)}
	assertClose(t, "hand", mergeOK(t, "nearswap", j), f32(0.05, 0.1, -0.1, 2), 1e-7, 0)
	r := rand.New(rand.NewPCG(22, 22))
	v0, v1 := randT(r, 9000), randT(r, 9000)
	for _, tt := range []float64{0, 0.01, 0.5, 100} {
		j := &Job{Tensor: "w", Base: v0, Models: [][]float32{v1}, Params: mp("t", tt)}
		assertEqual(t, "nearswap", mergeOK(t, "nearswap", j), refNearswap(v0, v1, tt))
	}
	assertEqual(t, "t=0 is the base", mergeOK(t, "nearswap", &Job{Tensor: "w", Base: v0, Models: [][]float32{v1}, Params: mp("t", 0)}), v0)
}

func TestFisher(t *testing.T) {
	// Element 0: (1·1 + 3·3)/(1+3) = 2.5; element 1: both Fisher values floored, plain mean 2.
	j := &Job{Tensor: "w", Models: [][]float32{f32(1, 1), f32(3, 3)}, Companions: fisherOf(f32(1, 0), f32(3, 0)),
		ModelParams: []Params{mp("fisher", "a.fisher"), mp("fisher", "b.fisher")}}
	assertEqual(t, "hand", mergeOK(t, "fisher", j), f32(2.5, 2))
	r := rand.New(rand.NewPCG(23, 23))
	n := 7000
	models := [][]float32{randT(r, n), randT(r, n), randT(r, n)}
	fisher := make([][]float32, 3)
	for i := range fisher {
		fisher[i] = randT(r, n)
		for e := range fisher[i] {
			fisher[i][e] *= fisher[i][e] // squares, some tiny
		}
	}
	ws := []float64{1, 0.5, 2}
	j = &Job{Tensor: "w", Models: models, Companions: fisherOf(fisher...), Params: mp("fisher", "shared.fisher"),
		ModelParams: []Params{mp("weight", ws[0]), mp("weight", ws[1]), mp("weight", ws[2])}}
	assertEqual(t, "fisher", mergeOK(t, "fisher", j), refFisher(models, fisher, ws))
	// Errors: missing Fisher tensors, wrong length, NaN, the path is required, all-zero weights.
	mergeErr(t, "fisher", &Job{Tensor: "w", Models: models, Params: mp("fisher", "f")}, "Fisher")
	mergeErr(t, "fisher", &Job{Tensor: "w", Models: models, Companions: fisherOf(fisher[0], fisher[1], f32(1)), Params: mp("fisher", "f")}, "model 2")
	bad := append([]float32(nil), fisher[2]...)
	bad[5] = float32(math.NaN())
	mergeErr(t, "fisher", &Job{Tensor: "w", Models: models, Companions: fisherOf(fisher[0], fisher[1], bad), Params: mp("fisher", "f")}, "element 5")
	mergeErr(t, "fisher", &Job{Tensor: "w", Models: models, Companions: fisherOf(fisher...)}, "\"fisher\" is required")
	mergeErr(t, "fisher", &Job{Tensor: "w", Models: models[:1], Companions: fisherOf(fisher[0]), Params: mp("fisher", "f", "weight", 0)}, "positive weight")
}

func TestRWSExtract(t *testing.T) {
	// a = (1, 0), d = (1, 1): the projection of d on a is (1, 0), RWS = (0, 1).
	j := &Job{Tensor: "conv1.weight", Base: f32(0, 0), Models: [][]float32{f32(1, 0), f32(1, 1)}}
	assertEqual(t, "projection", mergeOK(t, "rws_extract", j), f32(0, 1))
	// a = 0: RWS = d.
	j = &Job{Tensor: "conv1.weight", Base: f32(1, 1), Models: [][]float32{f32(1, 1), f32(3, 0)}}
	assertEqual(t, "a = 0", mergeOK(t, "rws_extract", j), f32(2, -1))

	r := rand.New(rand.NewPCG(24, 24))
	n := 9000
	pre := randT(r, n)
	clean, robust := near(r, pre, 0.1), near(r, pre, 0.1)
	j = &Job{Tensor: "conv1.weight", Base: pre, Models: [][]float32{clean, robust}}
	rws := mergeOK(t, "rws_extract", j)
	assertClose(t, "rws", rws, refRWS(pre, clean, robust), 1e-6, 1e-7)
	// Orthogonal to a (up to rounding).
	a := make([]float32, n)
	for e := range a {
		a[e] = clean[e] - pre[e]
	}
	if c := tensor.Dot(rws, a) / (tensor.Norm(rws) * tensor.Norm(a)); math.Abs(c) > 1e-5 {
		t.Errorf("RWS not orthogonal to the clean delta: cos %v", c)
	}

	// Quantised: U8 codes plus min/max, float output = dequantised values.
	q := &Quantized{}
	j.Params = Params{"quantize": map[string]any{"levels": 16, "type": "linear"}}
	j.Quant = q
	deq := mergeOK(t, "rws_extract", j)
	if q.Levels != 16 || len(q.Codes) != n {
		t.Fatalf("quant %d levels, %d codes", q.Levels, len(q.Codes))
	}
	back := make([]float32, n)
	if err := tensor.DequantizeLinear(q.Codes, q.Levels, q.Min, q.Max, back); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "codes → values", back, deq)
	step := (float64(q.Max) - float64(q.Min)) / 15
	assertClose(t, "quantisation error", deq, rws, 0, step/2+1e-6)
	// More than 256 levels: no codes, float output.
	j.Params = Params{"quantize": map[string]any{"levels": 1000}}
	mergeOK(t, "rws_extract", j)
	if q.Levels != 0 {
		t.Errorf("codes reported for 1000 levels")
	}
	j.Params = Params{"quantize": map[string]any{"levels": 1}}
	mergeErr(t, "rws_extract", j, "minimum")
	j.Params = Params{"quantize": map[string]any{"bits": 4}}
	mergeErr(t, "rws_extract", j, "unknown key")
	j.Params = Params{"quantize": map[string]any{"type": "linear"}}
	mergeErr(t, "rws_extract", j, "levels")
	// A constant tensor stores the constant.
	j = &Job{Tensor: "b", Base: f32(0, 0, 0), Models: [][]float32{f32(0, 0, 0), f32(2, 2, 2)}, Params: Params{"quantize": map[string]any{"levels": 4}}, Quant: q}
	assertEqual(t, "constant", mergeOK(t, "rws_extract", j), f32(2, 2, 2))
	if q.Min != 2 || q.Max != 2 || q.Codes[1] != 0 {
		t.Errorf("constant quant %+v", q)
	}
}

func TestRWSPatchRemove(t *testing.T) {
	j := &Job{Tensor: "w", Base: f32(1, 2), Models: [][]float32{f32(1, 0), f32(0, 1)}, ModelParams: []Params{mp("alpha", 2.0), nil}}
	assertEqual(t, "patch", mergeOK(t, "rws_patch", j), f32(3, 3)) // α applied once, not α²
	assertEqual(t, "remove", mergeOK(t, "rws_remove", j), f32(-1, 1))
	// No signature for this tensor: the target is copied.
	assertEqual(t, "copy", mergeOK(t, "rws_patch", &Job{Tensor: "fc.weight", Base: f32(4, 5)}), f32(4, 5))

	r := rand.New(rand.NewPCG(25, 25))
	n := 10000
	target := randT(r, n)
	sigs := [][]float32{randT(r, n), randT(r, n)}
	for i := range sigs {
		for e := range sigs[i] {
			sigs[i][e] *= 0.01
		}
	}
	mps := []Params{mp("alpha", 0.7), mp("alpha", 1.3)}
	patched := mergeOK(t, "rws_patch", &Job{Tensor: "w", Base: target, Models: sigs, ModelParams: mps})
	restored := mergeOK(t, "rws_remove", &Job{Tensor: "w", Base: patched, Models: sigs, ModelParams: mps})
	for e := range target {
		// Two float32 roundings, of θ+S and of (θ+S)−S: at most one ulp of the larger.
		m := float32(math.Max(math.Abs(float64(target[e])), math.Abs(float64(patched[e]))))
		ulp := float64(math.Nextafter32(m, float32(math.Inf(1))) - m)
		if math.Abs(float64(restored[e])-float64(target[e])) > ulp {
			t.Fatalf("element %d: restored %v, target %v", e, restored[e], target[e])
		}
	}
	// Composition is addition: patching with two signatures = patching one after the other.
	one := mergeOK(t, "rws_patch", &Job{Tensor: "w", Base: target, Models: sigs[:1], ModelParams: mps[:1]})
	two := mergeOK(t, "rws_patch", &Job{Tensor: "w", Base: one, Models: sigs[1:], ModelParams: mps[1:]})
	assertClose(t, "composition", two, patched, 1e-6, 1e-7)
}

func TestRWSLayers(t *testing.T) {
	refs := []TensorRef{
		{"conv1.weight", []int64{8, 3, 3, 3}}, {"conv1.bias", []int64{8}},
		{"bn1.weight", []int64{8}}, {"bn1.bias", []int64{8}},
		{"conv2.weight", []int64{8, 8, 3, 3}},
	}
	for i := 3; i <= 9; i++ {
		name := "layer" + string(rune('0'+i))
		refs = append(refs, TensorRef{name + ".weight", []int64{4, 4}}, TensorRef{name + ".bias", []int64{4}})
	}
	got, err := RWSLayers(refs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"conv1.weight", "conv1.bias", "conv2.weight", "layer3.weight", "layer3.bias", "layer4.weight", "layer4.bias",
		"layer5.weight", "layer5.bias", "layer6.weight", "layer6.bias", "layer7.weight", "layer7.bias"}
	if len(got) != len(want) {
		t.Fatalf("default layers %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("default layers %v", got)
		}
	}
	got, err = RWSLayers(refs, []string{"conv1", "layer9.*"})
	if err != nil || len(got) != 4 || got[0] != "conv1.weight" || got[3] != "layer9.bias" {
		t.Errorf("patterns: %v %v", got, err)
	}
	if _, err := RWSLayers(refs, []string{"nothing"}); err == nil {
		t.Error("pattern matching nothing accepted")
	}
	if _, err := RWSLayers(refs, []string{"[bad"}); err == nil {
		t.Error("bad glob accepted")
	}
}

func fisherOf(f ...[]float32) map[string][][]float32 { return map[string][][]float32{"fisher": f} }
