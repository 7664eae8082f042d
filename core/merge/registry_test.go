package merge

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestRegistryDeclarations(t *testing.T) {
	all := All()
	want := []string{"breadcrumbs", "breadcrumbs_ties", "della", "della_linear", "dare_linear", "dare_ties", "fisher",
		"greedy_soup", "linear", "model_stock", "nearswap", "rws_extract", "rws_patch", "rws_remove", "slerp", "task_arithmetic", "ties", "wise_ft",
		"tsv_merge", "iso_c", "iso_cts", "pcb", "karcher", "nuslerp", "multislerp", "sce", "passthrough"}
	slices.Sort(want)
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("methods %v, want %v", got, want)
	}
	if !slices.IsSortedFunc(all, func(a, b *Method) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("All is not sorted by name")
	}
	for _, m := range all {
		if m.Summary == "" {
			t.Errorf("%s: no summary", m.Name)
		}
		if !strings.Contains(m.Paper, "https://") {
			t.Errorf("%s: paper %q has no URL", m.Name, m.Paper)
		}
		if m.MinModels < 1 || (m.MaxModels != 0 && m.MaxModels < m.MinModels) {
			t.Errorf("%s: model bounds %d..%d", m.Name, m.MinModels, m.MaxModels)
		}
		if len(m.Roles) > 0 && len(m.Roles) != m.MaxModels {
			t.Errorf("%s: %d roles for %d models", m.Name, len(m.Roles), m.MaxModels)
		}
		seen := map[string]bool{}
		var check func(prefix string, ps []Param)
		check = func(prefix string, ps []Param) {
			for _, p := range ps {
				name := prefix + p.Name
				if seen[name] {
					t.Errorf("%s: parameter %s declared twice", m.Name, name)
				}
				seen[name] = true
				if p.Doc == "" {
					t.Errorf("%s: parameter %s has no doc", m.Name, name)
				}
				if p.Type < Float || p.Type > Map {
					t.Errorf("%s: parameter %s has type %v", m.Name, name, p.Type)
				}
				if p.Required && p.Default != nil {
					t.Errorf("%s: required parameter %s has a default", m.Name, name)
				}
				if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
					t.Errorf("%s: parameter %s range [%v, %v]", m.Name, name, *p.Min, *p.Max)
				}
				if (p.Min != nil || p.Max != nil) && p.Type != Float && p.Type != Int {
					t.Errorf("%s: parameter %s has a range but type %v", m.Name, name, p.Type)
				}
				if p.Default != nil {
					if err := checkValue(&p, p.Default, name); err != nil {
						t.Errorf("%s: default of %s: %v", m.Name, name, err)
					}
					switch p.Type {
					case Float:
						if _, ok := p.Default.(float64); !ok {
							t.Errorf("%s: default of float %s is %T", m.Name, name, p.Default)
						}
					case Int:
						if _, ok := p.Default.(int); !ok {
							t.Errorf("%s: default of int %s is %T", m.Name, name, p.Default)
						}
					}
				}
				if p.Type == Map {
					check(name+".", p.Fields)
				} else if len(p.Fields) > 0 {
					t.Errorf("%s: non-object %s has fields", m.Name, name)
				}
			}
		}
		check("", m.Params)
		checkSweep(t, m)
		for _, common := range []string{"sparse", "allow_nonfinite"} {
			if p, ok := m.Param(common); !ok || !p.Ladle {
				t.Errorf("%s: missing Ladle option %s", m.Name, common)
			}
		}
		if _, ok := m.Param("seed"); ok != m.Random {
			t.Errorf("%s: Random=%v but seed declared=%v", m.Name, m.Random, ok)
		}
	}
	if _, ok := Lookup("no_such_method"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
	if _, err := Get("tie"); err == nil || !strings.Contains(err.Error(), "ties") {
		t.Errorf("Get error %v does not list known methods", err)
	}
	// mergekit parameter names, so mergekit recipes run unchanged.
	for name, ps := range map[string][]string{
		"linear": {"weight", "normalize"}, "task_arithmetic": {"weight", "lambda", "normalize"},
		"ties": {"weight", "density", "lambda", "normalize", "int8_mask"}, "dare_ties": {"density", "rescale"},
		"breadcrumbs": {"density", "gamma"}, "della": {"density", "epsilon"}, "model_stock": {"filter_wise"},
		"slerp": {"t"}, "nearswap": {"t"},
	} {
		for _, p := range ps {
			if _, ok := method(t, name).Param(p); !ok {
				t.Errorf("%s lacks mergekit parameter %s", name, p)
			}
		}
	}
}

func TestParseOptions(t *testing.T) {
	ties := method(t, "ties")
	o, err := ties.ParseOptions(map[string]any{"trim_scope": "model", "sparse": "require", "allow_nonfinite": true, "seed": 3})
	if err != nil || o.TrimScope != TrimModel || o.Sparse != SparseRequire || !o.AllowNonFinite {
		t.Errorf("ties options %+v %v", o, err)
	}
	if _, err := ties.ParseOptions(map[string]any{"trim_scope": "layer"}); err == nil {
		t.Error("trim_scope: layer accepted")
	}
	if _, err := method(t, "linear").ParseOptions(map[string]any{"trim_scope": "model"}); err == nil {
		t.Error("trim_scope accepted for linear")
	}
	if _, err := method(t, "linear").ParseOptions(map[string]any{"allow_nonfinite": "yes"}); err == nil {
		t.Error("allow_nonfinite: yes accepted")
	}
	if o, err := method(t, "dare_ties").ParseOptions(map[string]any{"rescale_mode": "l1"}); err != nil || o.RescaleMode != RescaleL1 {
		t.Errorf("rescale_mode: %+v %v", o, err)
	}
}

// Every method, every malformed input: an *Error naming the tensor, never a panic.
func TestErrorsNeverPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(40, 40))
	for _, m := range All() {
		good := func() *Job {
			base := randT(r, 50)
			var models [][]float32
			for range modelsFor(m) {
				models = append(models, near(r, base, 0.1))
			}
			j := jobFor(m, "bad.tensor", base, models)
			j.Shape = []int64{5, 10}
			return j
		}
		if out := make([]float32, 50); m.Merge(good(), out) != nil {
			t.Fatalf("%s: the good job fails: %v", m.Name, m.Merge(good(), out))
		}
		cases := map[string]func(j *Job){
			"short model":    func(j *Job) { j.Models[0] = j.Models[0][:49] },
			"shape mismatch": func(j *Job) { j.Shape = []int64{7, 7} },
			"negative shape": func(j *Job) { j.Shape = []int64{-5, -10} },
			"unknown param":  func(j *Job) { j.Params["densty"] = 0.5 },
			"NaN param":      func(j *Job) { j.Params["lambda"] = math.NaN(); j.Params["weight"] = math.NaN() },
			"string param":   func(j *Job) { j.ModelParams[0]["weight"] = "heavy" },
			"list param":     func(j *Job) { j.ModelParams[0]["weight"] = []any{0.1, 0.2} },
			"global per model": func(j *Job) {
				j.ModelParams[0]["normalize"] = true
				j.ModelParams[0]["t"] = 0.5
				j.ModelParams[0]["filter_wise"] = true
				j.ModelParams[0]["layers"] = []string{"x"}
			},
			"ladle in params": func(j *Job) { j.Params["sparse"] = "require" },
			"params count":    func(j *Job) { j.ModelParams = j.ModelParams[:len(j.ModelParams)-1] },
			"ids count":       func(j *Job) { j.ModelIDs = []int{1, 2, 3, 4, 5, 6} },
			"bad option":      func(j *Job) { j.Options.Sparse = "sometimes" },
			"too many":        func(j *Job) { j.Models = append(j.Models, j.Models...); j.Models = append(j.Models, j.Models...) },
			"no models":       func(j *Job) { j.Models = nil; j.ModelParams = nil },
			"NaN input":       func(j *Job) { j.Models[0][3] = float32(math.NaN()) },
			"Inf input":       func(j *Job) { j.Models[len(j.Models)-1][7] = float32(math.Inf(-1)) },
		}
		if m.NeedsBase {
			cases["no base"] = func(j *Job) { j.Base = nil }
			cases["short base"] = func(j *Job) { j.Base = j.Base[:10] }
		}
		for name, mutate := range cases {
			j := good()
			mutate(j)
			if (name == "too many" && m.MaxModels == 0) || (m.PartialModels && (name == "no models" || name == "too many")) {
				continue
			}
			if name == "ids count" && len(j.Models) == 6 {
				continue
			}
			out := make([]float32, 50)
			err := func() (err error) {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s %s: panic %v", m.Name, name, p)
					}
				}()
				return m.Merge(j, out)
			}()
			if err == nil {
				t.Errorf("%s %s: no error", m.Name, name)
				continue
			}
			if !strings.Contains(err.Error(), "bad.tensor") || !strings.Contains(err.Error(), m.Name) {
				t.Errorf("%s %s: error %q does not name the method and tensor", m.Name, name, err)
			}
		}
		// Nil job and output length mismatch.
		if err := m.Merge(nil, nil); err == nil {
			t.Errorf("%s: nil job accepted", m.Name)
		}
		if err := m.Merge(good(), make([]float32, 3)); err == nil {
			t.Errorf("%s: short output accepted", m.Name)
		}
	}
	var nilMethod *Method
	if err := nilMethod.Merge(&Job{}, nil); err == nil {
		t.Error("nil method accepted")
	}
}

// AllowNonFinite lets NaN through instead of failing.
func TestAllowNonFinite(t *testing.T) {
	j := &Job{Tensor: "w", Models: [][]float32{f32(1, math.NaN()), f32(1, 2)}}
	mergeErr(t, "linear", j, "NaN", "allow_nonfinite")
	j.Options.AllowNonFinite = true
	out := mergeOK(t, "linear", j)
	if out[0] != 1 || out[1] == out[1] {
		t.Errorf("allow_nonfinite output %v", out)
	}
	// A NaN delta dropped by a trim or a DARE mask still surfaces.
	base := f32(0, 0, 0, 0)
	x := f32(1, 2, math.NaN(), 4)
	mergeErr(t, "breadcrumbs", &Job{Tensor: "w", Base: base, Models: [][]float32{x}, ModelParams: []Params{mp("density", 0.5, "gamma", 0.25)}}, "NaN")
	mergeErr(t, "dare_ties", &Job{Tensor: "w", Base: base, Models: [][]float32{x}, ModelParams: []Params{mp("density", 0.01)}}, "NaN")
}

// The output never depends on Job.Workers.
func TestWorkersDoNotChangeOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 41))
	const rows, cols = 37, 1111 // several chunks, rows not aligned with chunks
	n := rows * cols
	for _, m := range All() {
		base := tiedT(r, n)
		var models [][]float32
		for range modelsFor(m) {
			models = append(models, near(r, base, 0.3))
		}
		var outs [][]float32
		for _, w := range []int{0, 1, 3, 8} {
			j := jobFor(m, "w", base, models)
			j.Shape = []int64{rows, cols}
			j.Workers = w
			if m.Name == "model_stock" {
				j.Params["filter_wise"] = true
			}
			outs = append(outs, mergeOK(t, m.Name, j))
		}
		for _, o := range outs[1:] {
			if !equalBits(o, outs[0]) {
				t.Errorf("%s: output depends on Workers", m.Name)
			}
		}
	}
}

// Empty tensors (a zero-sized dimension) merge to nothing, for every method.
func TestEmptyTensors(t *testing.T) {
	for _, m := range All() {
		var models [][]float32
		for range modelsFor(m) {
			models = append(models, []float32{})
		}
		j := jobFor(m, "empty", []float32{}, models)
		j.Shape = []int64{0, 5}
		if err := m.Merge(j, []float32{}); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
}

func TestCheckValues(t *testing.T) {
	rws := method(t, "rws_extract")
	layers, _ := rws.Param("layers")
	for _, ok := range []any{[]string{"conv1"}, []any{"conv1", "conv2.*"}, "conv1", nil} {
		if err := layers.Check(ok, "parameters.layers"); err != nil {
			t.Errorf("layers %v: %v", ok, err)
		}
	}
	if err := layers.Check([]any{"conv1", 3}, "parameters.layers"); err == nil {
		t.Error("a number in layers accepted")
	}
	density, _ := method(t, "ties").Param("density")
	for _, ok := range []any{0, 1, 0.5, float32(0.25), int64(1), uint8(0)} {
		if err := density.Check(ok, "density"); err != nil {
			t.Errorf("density %v (%T): %v", ok, ok, err)
		}
	}
	for _, bad := range []any{-0.1, 1.5, "half", true, math.Inf(1)} {
		if err := density.Check(bad, "models[0].parameters.density"); err == nil || !strings.Contains(err.Error(), "models[0].parameters.density") {
			t.Errorf("density %v: %v", bad, err)
		}
	}
	q, _ := rws.Param("quantize")
	if err := q.Check(Params{"levels": 16}, "quantize"); err != nil {
		t.Error(err)
	}
	if err := q.Check(map[string]any{"levels": 2.5}, "quantize"); err == nil {
		t.Error("levels 2.5 accepted")
	}
	if err := q.Check(16, "quantize"); err == nil {
		t.Error("quantize: 16 accepted")
	}
	if Float.String() != "float" || ParamType(99).String() != "ParamType(99)" {
		t.Error("ParamType.String")
	}
	// A rws_extract job with an explicit layers list runs (the executor uses it to choose tensors).
	j := &Job{Tensor: "conv1.weight", Base: f32(0, 0), Models: [][]float32{f32(1, 0), f32(1, 1)}, Params: Params{"layers": []any{"conv1"}}}
	assertEqual(t, "layers", mergeOK(t, "rws_extract", j), f32(0, 1))
}

// checkSweep: a method's main scalar (Param.Sweep) is one float parameter that is not
// a Ladle option, and a pair sweep is a per-model weight of a method that can take
// two models.
func checkSweep(t *testing.T, m *Method) {
	t.Helper()
	var swept []string
	for _, p := range m.Params {
		if p.SweepPair && p.Sweep == "" {
			t.Errorf("%s: %s is a pair sweep without an axis", m.Name, p.Name)
		}
		if p.Sweep == "" {
			continue
		}
		swept = append(swept, p.Name)
		if p.Type != Float || p.Ladle {
			t.Errorf("%s: swept parameter %s must be a float of the recipe, not %v (ladle %v)", m.Name, p.Name, p.Type, p.Ladle)
		}
		if p.SweepPair && (!p.PerModel || m.MinModels > 2 || (m.MaxModels != 0 && m.MaxModels < 2)) {
			t.Errorf("%s: pair sweep of %s needs a per-model weight and a method that takes two models", m.Name, p.Name)
		}
	}
	if len(swept) > 1 {
		t.Errorf("%s: %d main scalars %v; at most one parameter may be swept", m.Name, len(swept), swept)
	}
}

// The page sweeps what it swept when it knew the methods by name, and now also the
// main scalars of the round-2 methods.
func TestSweptParameters(t *testing.T) {
	want := map[string]string{
		"wise_ft": "alpha", "slerp": "t", "task_arithmetic": "lambda", "linear": "weight",
		"ties": "density", "dare_ties": "density", "dare_linear": "density", "della": "density", "della_linear": "density",
		"breadcrumbs": "density", "breadcrumbs_ties": "density",
		"tsv_merge": "lambda", "iso_c": "lambda", "iso_cts": "lambda", "pcb": "density", "sce": "select_topk",
		"nuslerp": "weight", "multislerp": "weight",
	}
	for _, m := range All() {
		got := ""
		for _, p := range m.Params {
			if p.Sweep != "" {
				got = p.Name
			}
		}
		if got != want[m.Name] {
			t.Errorf("%s sweeps %q, want %q", m.Name, got, want[m.Name])
		}
	}
}
