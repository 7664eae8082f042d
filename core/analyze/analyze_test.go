package analyze

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
)

// tensorSpec is one tensor of a test checkpoint.
type tensorSpec struct {
	name  string
	dt    dtype.DType
	shape []int64
	vals  []float64
}

// source writes tensors as a safetensors file in memory and opens it.
func source(t testing.TB, name string, specs ...tensorSpec) Input {
	t.Helper()
	var infos []ckpt.Info
	for _, s := range specs {
		infos = append(infos, ckpt.Info{Name: s.name, DType: s.dt, Shape: s.shape})
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, infos, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		var raw []byte
		for _, v := range s.vals {
			switch s.dt {
			case dtype.F32:
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(v)))
			case dtype.F64:
				raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
			case dtype.BF16:
				raw = binary.LittleEndian.AppendUint16(raw, dtype.F32ToBF16(float32(v)))
			case dtype.I64:
				raw = binary.LittleEndian.AppendUint64(raw, uint64(int64(v)))
			default:
				t.Fatalf("test helper: dtype %v", s.dt)
			}
		}
		if err := w.WriteTensor(s.name, raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := safetensors.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), name)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Name: name, Source: src}
}

// stored is v as the dtype stores it, back in float64.
func stored(dt dtype.DType, v float64) float64 {
	switch dt {
	case dtype.F32:
		return float64(float32(v))
	case dtype.BF16:
		return float64(dtype.BF16ToF32(dtype.F32ToBF16(float32(v))))
	}
	return v
}

// reference computes the measures the slow, obvious way: whole task vectors flattened,
// a stable sort for the trim.
func reference(base []tensorSpec, models [][]tensorSpec, density float64) *Result {
	m := len(models)
	res := &Result{Cosine: make([][]float64, m)}
	flat := make([][]float64, m)
	for ti, bt := range base {
		t := Tensor{Name: bt.name}
		ds := make([][]float64, m)
		for i := range models {
			mt := models[i][ti]
			for e := range bt.vals {
				ds[i] = append(ds[i], stored(mt.dt, mt.vals[e])-stored(bt.dt, bt.vals[e]))
			}
			flat[i] = append(flat[i], ds[i]...)
			ss := 0.0
			for _, x := range ds[i] {
				ss += x * x
			}
			t.Norms = append(t.Norms, math.Sqrt(ss))
		}
		n := len(bt.vals)
		conflicts := 0
		for e := 0; e < n; e++ {
			signs := map[bool]bool{}
			for i := range ds {
				if ds[i][e] != 0 {
					signs[ds[i][e] > 0] = true
				}
			}
			if len(signs) == 2 {
				conflicts++
			}
		}
		t.SignConflict = float64(conflicts) / float64(n)
		k := int(math.Floor(density * float64(n)))
		kept := make([][]bool, m)
		sum := make([]float64, n)
		for i := range ds {
			idx := make([]int, n)
			for e := range idx {
				idx[e] = e
			}
			sort.SliceStable(idx, func(a, b int) bool { return math.Abs(ds[i][idx[a]]) > math.Abs(ds[i][idx[b]]) })
			kept[i] = make([]bool, n)
			for _, e := range idx[:k] {
				kept[i][e] = true
				sum[e] += ds[i][e]
			}
		}
		for i := range ds {
			same, all := 0, 0
			for e := 0; e < n; e++ {
				if kept[i][e] && ds[i][e] != 0 {
					all++
					elected := 1.0
					if sum[e] < 0 {
						elected = -1
					}
					if math.Copysign(1, ds[i][e]) == elected {
						same++
					}
				}
			}
			agree := 0.0
			if all > 0 {
				agree = float64(same) / float64(all)
			}
			t.TiesAgree = append(t.TiesAgree, agree)
		}
		res.Tensors = append(res.Tensors, t)
	}
	for i := range m {
		res.Cosine[i] = make([]float64, m)
		for j := range m {
			var d, ni, nj float64
			for e := range flat[i] {
				d += flat[i][e] * flat[j][e]
				ni += flat[i][e] * flat[i][e]
				nj += flat[j][e] * flat[j][e]
			}
			if ni > 0 && nj > 0 {
				res.Cosine[i][j] = d / (math.Sqrt(ni) * math.Sqrt(nj))
			}
		}
	}
	return res
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func randomSpecs(r *rand.Rand, dt dtype.DType, quantise bool) []tensorSpec {
	shapes := []struct {
		name  string
		shape []int64
	}{{"layer.weight", []int64{7, 5}}, {"layer.bias", []int64{7}}, {"scalar", nil}, {"head.weight", []int64{3, 4, 2}}}
	var out []tensorSpec
	for _, s := range shapes {
		n := int(ckpt.NumElements(s.shape))
		vals := make([]float64, n)
		for e := range vals {
			if quantise {
				vals[e] = float64(r.IntN(5)-2) / 4 // many equal magnitudes and zeros
			} else {
				vals[e] = r.NormFloat64()
			}
		}
		out = append(out, tensorSpec{s.name, dt, s.shape, vals})
	}
	return out
}

func TestAnalyzeMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dt       dtype.DType
		models   int
		density  float64
		quantise bool
	}{
		{"f32 three models density 1", dtype.F32, 3, 1, false},
		{"f32 four models density 0.3", dtype.F32, 4, 0.3, false},
		{"bf16 two models density 0.5", dtype.BF16, 2, 0.5, false},
		{"equal magnitudes and zeros density 0.4", dtype.F64, 3, 0.4, true},
		{"one model density 0", dtype.F32, 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.models), 7))
			baseSpecs := randomSpecs(r, tc.dt, tc.quantise)
			base := source(t, "base.safetensors", baseSpecs...)
			var inputs []Input
			var modelSpecs [][]tensorSpec
			for i := range tc.models {
				specs := randomSpecs(r, tc.dt, tc.quantise)
				modelSpecs = append(modelSpecs, specs)
				inputs = append(inputs, source(t, string(rune('a'+i))+".safetensors", specs...))
			}
			var progress []int
			got, err := Analyze(context.Background(), base, inputs, Options{Density: tc.density, Progress: func(done, total int, _ string) { progress = append(progress, done*100+total) }})
			if err != nil {
				t.Fatal(err)
			}
			want := reference(baseSpecs, modelSpecs, tc.density)
			if len(progress) != 4 || progress[3] != 404 {
				t.Errorf("progress calls %v, want 1..4 of 4", progress)
			}
			for i := range want.Cosine {
				for j := range want.Cosine[i] {
					if !near(got.Cosine[i][j], want.Cosine[i][j]) {
						t.Errorf("cosine[%d][%d] = %v, want %v", i, j, got.Cosine[i][j], want.Cosine[i][j])
					}
					if got.Cosine[i][j] != got.Cosine[j][i] {
						t.Errorf("cosine is not symmetric at %d, %d", i, j)
					}
				}
			}
			if len(got.Tensors) != len(want.Tensors) {
				t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
			}
			for k, wt := range want.Tensors {
				gt := got.Tensors[k]
				if gt.Name != wt.Name || gt.SignConflict != wt.SignConflict {
					t.Errorf("tensor %d: %s sign conflict %v, want %s %v", k, gt.Name, gt.SignConflict, wt.Name, wt.SignConflict)
				}
				for i := range wt.Norms {
					if !near(gt.Norms[i], wt.Norms[i]) || gt.TiesAgree[i] != wt.TiesAgree[i] {
						t.Errorf("%s model %d: norm %v agree %v, want %v %v", wt.Name, i, gt.Norms[i], gt.TiesAgree[i], wt.Norms[i], wt.TiesAgree[i])
					}
				}
			}
		})
	}
}

// TIES' trim at equal magnitudes keeps the lower index; the agreement then follows.
func TestTiesAgreeTrimsLowerIndexFirst(t *testing.T) {
	z := []float64{0, 0, 0, 0}
	base := source(t, "base", tensorSpec{"w", dtype.F32, []int64{4}, z})
	a := source(t, "a", tensorSpec{"w", dtype.F32, []int64{4}, []float64{1, -1, 1, -1}})
	b := source(t, "b", tensorSpec{"w", dtype.F32, []int64{4}, []float64{-2, 0, 0, 0}})
	got, err := Analyze(context.Background(), base, []Input{a, b}, Options{Density: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	// a keeps indices 0 and 1 (+1, -1); b keeps -2 at 0 (and the zero at 1).
	// Elected: index 0: 1-2 < 0 → −; index 1: −1 → −. a agrees at 1 only: 1/2. b: 1/1.
	tt := got.Tensors[0]
	if tt.TiesAgree[0] != 0.5 || tt.TiesAgree[1] != 1 {
		t.Errorf("ties_agree = %v, want [0.5 1]", tt.TiesAgree)
	}
	if tt.SignConflict != 0.25 {
		t.Errorf("sign_conflict = %v, want 0.25 (only element 0 has both signs)", tt.SignConflict)
	}
	if c := got.Cosine[0][1]; !near(c, -0.5) {
		t.Errorf("cosine = %v, want -0.5", c)
	}
}

func TestAnalyzeSkipsAndZeroNorms(t *testing.T) {
	base := source(t, "base",
		tensorSpec{"w", dtype.F32, []int64{2}, []float64{1, 2}},
		tensorSpec{"steps", dtype.I64, []int64{1}, []float64{3}},
		tensorSpec{"only.base", dtype.F32, []int64{1}, []float64{1}})
	same := source(t, "same", tensorSpec{"w", dtype.F32, []int64{2}, []float64{1, 2}}, tensorSpec{"steps", dtype.I64, []int64{1}, []float64{9}})
	moved := source(t, "moved", tensorSpec{"w", dtype.F32, []int64{2}, []float64{2, 2}}, tensorSpec{"steps", dtype.I64, []int64{1}, []float64{9}})
	got, err := Analyze(context.Background(), base, []Input{same, moved}, Options{Density: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tensors) != 1 || got.Tensors[0].Name != "w" {
		t.Fatalf("tensors %+v, want only w (integers and tensors missing in a model are left out)", got.Tensors)
	}
	if got.Cosine[0][0] != 0 || got.Cosine[0][1] != 0 || got.Cosine[1][1] != 1 {
		t.Errorf("cosine %v: a zero task vector has cosine 0, a nonzero one 1 with itself", got.Cosine)
	}
	if got.Models[0] != "same" || got.Models[1] != "moved" {
		t.Errorf("models %v", got.Models)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	base := source(t, "base.safetensors", tensorSpec{"w", dtype.F32, []int64{2}, []float64{1, 2}})
	wrong := source(t, "wrong.safetensors", tensorSpec{"w", dtype.F32, []int64{1, 2}, []float64{1, 2}})
	nan := source(t, "nan.safetensors", tensorSpec{"w", dtype.F32, []int64{2}, []float64{math.NaN(), 2}})
	other := source(t, "other.safetensors", tensorSpec{"v", dtype.F32, []int64{2}, []float64{1, 2}})
	for _, tc := range []struct {
		models  []Input
		density float64
		want    []string
	}{
		{[]Input{wrong}, 1, []string{"wrong.safetensors", "tensor w", "shape"}},
		{[]Input{nan}, 1, []string{"nan.safetensors", "tensor w", "not a finite number"}},
		{[]Input{other}, 1, []string{"base.safetensors", "share no"}},
		{nil, 1, []string{"at least one model"}},
		{[]Input{base}, 1.5, []string{"density 1.5"}},
	} {
		_, err := Analyze(context.Background(), base, tc.models, Options{Density: tc.density})
		if err == nil {
			t.Errorf("%v: no error", tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Analyze(ctx, base, []Input{base}, Options{Density: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// A cosine is a cosine: 1 on the diagonal and between −1 and 1 everywhere, even where
// the rounding of Σ δi·δj / (‖δi‖ ‖δj‖) lands just outside (identical task vectors gave
// 1.0000000000000002, which acos turns into NaN).
func TestCosineStaysInRange(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for trial := range 50 {
		n := 3 + r.IntN(60)
		bv, av, cv := make([]float64, n), make([]float64, n), make([]float64, n)
		for e := range bv {
			bv[e] = r.NormFloat64()
			av[e] = bv[e] + r.NormFloat64()*math.Pow(10, -float64(r.IntN(4)))
			cv[e] = bv[e] - (av[e] - bv[e]) // the opposite task vector (up to rounding)
		}
		base := source(t, "base", tensorSpec{"w", dtype.F64, []int64{int64(n)}, bv})
		a := source(t, "a", tensorSpec{"w", dtype.F64, []int64{int64(n)}, av})
		a2 := source(t, "a2", tensorSpec{"w", dtype.F64, []int64{int64(n)}, av})
		c := source(t, "c", tensorSpec{"w", dtype.F64, []int64{int64(n)}, cv})
		got, err := Analyze(context.Background(), base, []Input{a, a2, c}, Options{Density: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range got.Cosine {
			for j, v := range row {
				if math.Abs(v) > 1 || (i == j && v != 1) || (i < 2 && j < 2 && v != 1) {
					t.Fatalf("trial %d: cosine[%d][%d] = %v (%v)", trial, i, j, v, got.Cosine)
				}
			}
		}
	}
}
