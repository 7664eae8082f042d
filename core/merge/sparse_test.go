package merge

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// jobFor builds a valid job for any registered method over the given inputs (base plus
// models, all of the same length), with parameters that exercise the method.
func jobFor(m *Method, name string, base []float32, models [][]float32) *Job {
	j := &Job{Tensor: name, Models: models, Seed: 11, Params: Params{}}
	if m.NeedsBase {
		j.Base = base
	}
	mps := make([]Params, len(models))
	for i := range mps {
		mps[i] = Params{}
		if p, ok := m.Param("density"); ok && p.PerModel {
			mps[i]["density"] = 0.5
		}
	}
	j.ModelParams = mps
	switch m.Name {
	case "slerp":
		j.Params["t"] = 0.4
	case "nearswap":
		j.Params["t"] = 0.05
	case "pcb":
		j.Params["density"] = 0.3
	case "fisher":
		j.Params["fisher"] = "f"
		for i, x := range models {
			f := make([]float32, len(x))
			for e := range f {
				f[e] = 0.5 + float32((e+i)%3)
			}
			if j.Companions == nil {
				j.Companions = map[string][][]float32{}
			}
			j.Companions["fisher"] = append(j.Companions["fisher"], f)
		}
	}
	return j
}

// modelsFor returns how many non-base models to give a method in generic tests.
func modelsFor(m *Method) int {
	n := max(m.MinModels, 3)
	if m.MaxModels > 0 {
		n = min(n, m.MaxModels)
	}
	return n
}

// Sparse soups: exact zeros shared by every input stay exact zeros, for every method.
func TestSparseZerosPreserved(t *testing.T) {
	r := rand.New(rand.NewPCG(30, 30))
	const n = 9000
	zeroAt := func(e int) bool { return e%3 == 0 || e%7 == 0 }
	mask := func(x []float32) []float32 {
		for e := range x {
			if zeroAt(e) {
				x[e] = 0
			}
		}
		return x
	}
	for _, m := range All() {
		if m.Dense {
			continue // rebuilt from singular directions: zeros spread (TestDenseMethodsDeclared)
		}
		base := mask(randT(r, n))
		var models [][]float32
		for range modelsFor(m) {
			models = append(models, mask(near(r, base, 0.3)))
		}
		j := jobFor(m, "sparse.weight", base, models)
		j.Shape = []int64{90, 100}
		j.Options.Sparse = SparseRequire
		out := mergeOK(t, m.Name, j)
		nz := 0
		for e, v := range out {
			if zeroAt(e) && v != 0 {
				t.Fatalf("%s: element %d = %v, want an exact zero", m.Name, e, v)
			}
			if v != 0 {
				nz++
			}
		}
		if nz == 0 && m.Name != "rws_patch" {
			t.Errorf("%s: output is all zeros", m.Name)
		}
	}
}

func TestSparseRequireRejectsDifferentPatterns(t *testing.T) {
	a, b := f32(0, 1, 2), f32(0, 0, 2)
	j := &Job{Tensor: "fc.weight", Models: [][]float32{a, b}, Options: Options{Sparse: SparseRequire}}
	mergeErr(t, "linear", j, "zero patterns differ", "element 1", "model 1")
	// Without the option, linear merges anyway.
	j.Options.Sparse = ""
	assertEqual(t, "allowed", mergeOK(t, "linear", j), f32(0, 0.5, 2))
	// The base counts for methods that use it.
	j = &Job{Tensor: "fc.weight", Base: f32(1, 1, 2), Models: [][]float32{a}, Options: Options{Sparse: SparseRequire}}
	mergeErr(t, "task_arithmetic", j, "base model")
}

// The methods that declare Dense do spread shared zeros (so the flag is needed), and
// only the SVD methods declare it.
func TestDenseMethodsDeclared(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 31))
	for _, m := range All() {
		if !m.Dense {
			continue
		}
		base := randT(r, 600)
		models := [][]float32{near(r, base, 0.3), near(r, base, 0.3)}
		for e := 0; e < 600; e += 7 { // not whole columns or rows: those do stay zero
			base[e], models[0][e], models[1][e] = 0, 0, 0
		}
		j := jobFor(m, "dense.weight", base, models)
		j.Shape = []int64{20, 30}
		out := mergeOK(t, m.Name, j)
		spread := false
		for e := 0; e < 600; e += 7 {
			spread = spread || out[e] != 0
		}
		if !spread {
			t.Errorf("%s declares Dense but keeps shared zeros; drop the flag", m.Name)
		}
	}
}

// A Dense method cannot honour `sparse: require` (it fills shared zeros in), so it
// refuses the option instead of accepting it and densifying the soup anyway, and its
// registry entry does not claim that shared zeros are preserved.
func TestDenseMethodsRefuseSparseRequire(t *testing.T) {
	r := rand.New(rand.NewPCG(32, 32))
	dense := 0
	for _, m := range All() {
		p, _ := m.Param("sparse")
		if !m.Dense {
			if !slices.Contains(p.Choices, SparseRequire) {
				t.Errorf("%s: sparse: require is not offered", m.Name)
			}
			continue
		}
		dense++
		if strings.Contains(p.Doc, "always preserved") || slices.Contains(p.Choices, SparseRequire) {
			t.Errorf("%s: the sparse option still promises shared zeros: %v %q", m.Name, p.Choices, p.Doc)
		}
		base := randT(r, 600)
		models := [][]float32{near(r, base, 0.3), near(r, base, 0.3)}
		for e := 0; e < 600; e += 7 { // the same zero pattern everywhere
			base[e], models[0][e], models[1][e] = 0, 0, 0
		}
		j := jobFor(m, "dense.weight", base, models)
		j.Shape = []int64{20, 30}
		j.Options.Sparse = SparseRequire
		mergeErr(t, m.Name, j, "sparse: require", "fills them in")
	}
	if dense == 0 {
		t.Error("no method declares Dense")
	}
}

// The recipe-time check (ParseOptions, run before any tensor is read) gives the same
// reason.
func TestDenseMethodsRefuseSparseRequireInOptions(t *testing.T) {
	m := method(t, "tsv_merge")
	if _, err := m.ParseOptions(map[string]any{"sparse": SparseRequire}); err == nil || !strings.Contains(err.Error(), "fills them in") {
		t.Errorf("ParseOptions(sparse: require) = %v", err)
	}
	if _, err := m.ParseOptions(map[string]any{"sparse": SparseAllow}); err != nil {
		t.Errorf("ParseOptions(sparse: allow) = %v", err)
	}
}
