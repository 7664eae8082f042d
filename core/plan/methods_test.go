package plan

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/merge"
)

// rws_extract then rws_patch then rws_remove restores the target within rounding, and
// a quantised signature is stored as U8 codes.
func TestRWSExtractPatchRemove(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "pre.safetensors"), layout, 1, 100, 0)
	writeModel(t, filepath.Join(dir, "clean.safetensors"), layout, 1, 1, 0.05)
	robust := writeModel(t, filepath.Join(dir, "noise.safetensors"), layout, 1, 2, 0.05)
	writeModel(t, filepath.Join(dir, "blur.safetensors"), layout, 1, 3, 0.05)

	sig := mergeToBytes(t, dir, "merge_method: rws_extract\nbase_model: pre.safetensors\nmodels: [clean.safetensors, noise.safetensors]\nparameters: {layers: [conv1, fc]}\n", Options{})
	os.WriteFile(filepath.Join(dir, "noise.sig.safetensors"), sig, 0o644)
	_, src := tensorsOf(t, sig)
	var names []string
	for _, info := range src.Tensors() {
		names = append(names, info.Name)
	}
	if strings.Join(names, ",") != "conv1.weight,conv1.bias,fc.weight,fc.bias" {
		t.Errorf("signature tensors %v", names)
	}
	var info merge.RWSInfo
	if err := json.Unmarshal([]byte(src.Metadata()[merge.RWSKey]), &info); err != nil || info.Corruption != "noise" || len(info.Layers) != 4 {
		t.Errorf("signature metadata %q (%v)", src.Metadata()[merge.RWSKey], err)
	}
	// Quantised: U8 codes and a range beside each.
	qsig := mergeToBytes(t, dir, "merge_method: rws_extract\nbase_model: pre.safetensors\nmodels: [clean.safetensors, blur.safetensors]\nparameters: {quantize: {levels: 16}}\n", Options{})
	os.WriteFile(filepath.Join(dir, "blur.sig.safetensors"), qsig, 0o644)
	_, qsrc := tensorsOf(t, qsig)
	if w, ok := ckpt.Lookup(qsrc, "fc.weight"); !ok || w.DType != dtype.U8 {
		t.Errorf("quantised fc.weight is %+v", w)
	}
	if _, ok := ckpt.Lookup(qsrc, "fc.weight"+merge.RangeSuffix); !ok {
		t.Error("no range tensor beside the codes")
	}
	if int64(len(qsig)) >= int64(len(sig)) {
		t.Errorf("the quantised signature (%d bytes) is not smaller than the float one (%d)", len(qsig), len(sig))
	}

	patched := mergeToBytes(t, dir, "merge_method: rws_patch\nbase_model: clean.safetensors\nmodels: [noise.sig.safetensors, {model: blur.sig.safetensors, parameters: {alpha: 0.5}}]\n", Options{})
	os.WriteFile(filepath.Join(dir, "patched.safetensors"), patched, 0o644)
	removed := mergeToBytes(t, dir, "merge_method: rws_remove\nbase_model: patched.safetensors\nmodels: [noise.sig.safetensors, {model: blur.sig.safetensors, parameters: {alpha: 0.5}}]\n", Options{})
	clean, _ := tensorsOf(t, mustRead(t, filepath.Join(dir, "clean.safetensors")))
	got, _ := tensorsOf(t, removed)
	p, _ := tensorsOf(t, patched)
	changed := false
	for name, c := range clean {
		tol := 1e-5
		if name == "embed.weight" { // stored as BF16: patching and removing each round to 8 bits
			tol = 1.0 / 64
		}
		for i := range c {
			if !near(float64(got[name][i]), float64(c[i]), tol) {
				t.Fatalf("%s[%d]: patch then remove gave %v, want %v", name, i, got[name][i], c[i])
			}
			if p[name][i] != c[i] {
				changed = true
			}
		}
	}
	if !changed {
		t.Error("patching changed nothing")
	}
	// Outside the signed layers, the target is copied exactly.
	if !equalF32(p["norm.running_mean"], clean["norm.running_mean"]) {
		t.Error("a tensor outside the signatures changed")
	}
	// The float signature is exactly d minus its projection on a.
	pre, _ := tensorsOf(t, mustRead(t, filepath.Join(dir, "pre.safetensors")))
	sigv, _ := tensorsOf(t, sig)
	for _, name := range []string{"conv1.weight", "fc.bias"} {
		var aa, ad float64
		a, d := make([]float64, len(pre[name])), make([]float64, len(pre[name]))
		for i := range a {
			a[i] = float64(clean[name][i] - pre[name][i])
			d[i] = float64(robust[name][i] - pre[name][i])
			aa += a[i] * a[i]
			ad += a[i] * d[i]
		}
		for i := range a {
			want := d[i] - ad/aa*a[i]
			if !near(float64(sigv[name][i]), want, 1e-5) {
				t.Fatalf("%s[%d] signature %v, want %v", name, i, sigv[name][i], want)
			}
		}
	}
}

func mustRead(t testing.TB, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// ties with trim_scope: model trims each model to floor(density·N) entries over the
// whole model, ties broken by lower position in checkpoint order, as a naive
// sort-based reference computes.
func TestTiesModelWideTrimMatchesNaiveReference(t *testing.T) {
	dir := t.TempDir()
	tensors := []testTensor{{"l0.weight", dtype.F32, []int64{7, 5}}, {"l1.weight", dtype.F32, []int64{11}}, {"l2.weight", dtype.F32, []int64{3, 4}}}
	base := writeModel(t, filepath.Join(dir, "base.safetensors"), tensors, 1, 100, 0)
	a := writeModel(t, filepath.Join(dir, "a.safetensors"), tensors, 1, 1, 0.1)
	b := writeModel(t, filepath.Join(dir, "b.safetensors"), tensors, 1, 2, 0.1)
	const da, db = 0.3, 0.55
	out := mergeToBytes(t, dir, "merge_method: ties\nbase_model: base.safetensors\nmodels: [{model: a.safetensors, parameters: {density: 0.3}}, {model: b.safetensors, parameters: {density: 0.55, weight: 0.7}}]\nladle: {trim_scope: model}\n", Options{Threads: 3})
	got, _ := tensorsOf(t, out)

	trim := func(m map[string][]float32, density float64) map[string][]float64 {
		type entry struct {
			mag float64
			pos int
		}
		var all []entry
		deltas := map[string][]float64{}
		pos := 0
		for _, tt := range tensors {
			d := make([]float64, len(m[tt.name]))
			for i := range d {
				d[i] = float64(m[tt.name][i] - base[tt.name][i])
				all = append(all, entry{math.Abs(d[i]), pos})
				pos++
			}
			deltas[tt.name] = d
		}
		sort.SliceStable(all, func(i, j int) bool {
			if all[i].mag != all[j].mag {
				return all[i].mag > all[j].mag
			}
			return all[i].pos < all[j].pos
		})
		keep := map[int]bool{}
		for _, e := range all[:int(math.Floor(density*float64(len(all))))] {
			keep[e.pos] = true
		}
		pos = 0
		for _, tt := range tensors {
			for i := range deltas[tt.name] {
				if !keep[pos] {
					deltas[tt.name][i] = 0
				}
				pos++
			}
		}
		return deltas
	}
	ta, tb := trim(a, da), trim(b, db)
	for _, tt := range tensors {
		for i := range base[tt.name] {
			u := []float64{ta[tt.name][i], 0.7 * tb[tt.name][i]}
			ws := []float64{1, 0.7}
			s := 1.0
			if u[0]+u[1] < 0 {
				s = -1
			}
			var mixed, norm float64
			for k := range u {
				if u[k] != 0 && math.Signbit(u[k]) == (s < 0) {
					mixed += u[k]
					norm += ws[k]
				}
			}
			if norm == 0 {
				norm = 1
			}
			want := float64(base[tt.name][i]) + mixed/norm
			if !near(float64(got[tt.name][i]), want, 1e-5) {
				t.Fatalf("%s[%d] = %v, want %v", tt.name, i, got[tt.name][i], want)
			}
		}
	}
}

// wise_ft with a list of alphas makes one output per alpha.
func TestWiseFTAlphaList(t *testing.T) {
	dir, _, models := fineTunes(t)
	r := "merge_method: wise_ft\nmodels: [a.safetensors, b.safetensors]\nparameters: {alpha: [0.25, 1]}\n"
	outputs := 0
	for v := 0; v < 2; v++ {
		out := mergeToBytes(t, dir, r, Options{Output: v})
		got, src := tensorsOf(t, out)
		alpha := []float64{0.25, 1}[v]
		for i, x := range got["fc.weight"] {
			want := (1-alpha)*float64(models[0]["fc.weight"][i]) + alpha*float64(models[1]["fc.weight"][i])
			if !near(float64(x), want, 1e-6) {
				t.Fatalf("alpha %v: fc.weight[%d] = %v, want %v", alpha, i, x, want)
			}
		}
		if !strings.Contains(src.Metadata()["ladle.recipe"], "alpha: "+map[int]string{0: "0.25", 1: "1"}[v]) {
			t.Errorf("output %d metadata does not say its alpha:\n%s", v, src.Metadata()["ladle.recipe"])
		}
		outputs++
	}
	if _, err := tryMerge(dir, r, Options{Output: 2}); err == nil {
		t.Error("a third output of a two-alpha recipe was written")
	}
}

// fisher weighs each model by its Fisher values, read from companion checkpoints.
func TestFisherMerge(t *testing.T) {
	dir, _, models := fineTunes(t)
	fa := writeModel(t, filepath.Join(dir, "fa.safetensors"), layout, 5, 6, 0)
	fb := writeModel(t, filepath.Join(dir, "fb.safetensors"), layout, 7, 8, 0)
	for _, f := range []map[string][]float32{fa, fb} {
		for _, v := range f {
			for i := range v {
				v[i] = v[i] * v[i] // squares, as Fisher values are; the files hold the raw values
			}
		}
	}
	out := mergeToBytes(t, dir, "merge_method: fisher\nmodels: [{model: a.safetensors, parameters: {fisher: fa.safetensors}}, {model: b.safetensors, parameters: {fisher: fb.safetensors, weight: 2}}]\n", Options{})
	got, _ := tensorsOf(t, out)
	raw := func(path, name string) []float32 {
		v, _ := tensorsOf(t, mustRead(t, filepath.Join(dir, path)))
		return v[name]
	}
	ra, rb := raw("fa.safetensors", "fc.weight"), raw("fb.safetensors", "fc.weight")
	for i, x := range got["fc.weight"] {
		wa := math.Max(float64(ra[i]), 1e-6)
		wb := 2 * math.Max(float64(rb[i]), 1e-6)
		want := (wa*float64(models[0]["fc.weight"][i]) + wb*float64(models[1]["fc.weight"][i])) / (wa + wb)
		if !near(float64(x), want, 1e-5) {
			t.Fatalf("fc.weight[%d] = %v, want %v", i, x, want)
		}
	}
}

// Sparse soups: zeros shared by every input stay zeros; `sparse: require` rejects
// differing patterns, naming the tensor.
func TestSparseSoup(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, zeros []int, seed uint64) {
		writeModel(t, filepath.Join(dir, name), layout, 1, seed, 0.05)
		src, _ := ckpt.Open(filepath.Join(dir, name))
		var data [][]byte
		infos := src.Tensors()
		for _, info := range infos {
			b, _ := ckpt.ReadAll(src, info.Name)
			if info.Name == "fc.weight" {
				for _, z := range zeros {
					copy(b[4*z:], []byte{0, 0, 0, 0})
				}
			}
			data = append(data, b)
		}
		src.Close()
		var buf bytes.Buffer
		w, _ := newTestWriter(&buf, infos)
		for i, info := range infos {
			w.WriteTensor(info.Name, data[i])
		}
		w.Close()
		os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644)
	}
	mk("a.safetensors", []int{0, 5, 17}, 1)
	mk("b.safetensors", []int{0, 5, 17}, 2)
	mk("c.safetensors", []int{0, 6}, 3)
	got, _ := tensorsOf(t, mergeToBytes(t, dir, "merge_method: linear\nmodels: [a.safetensors, b.safetensors]\nladle: {sparse: require}\n", Options{}))
	for _, z := range []int{0, 5, 17} {
		if v := got["fc.weight"][z]; v != 0 || math.Signbit(float64(v)) {
			t.Errorf("fc.weight[%d] = %v, want +0", z, v)
		}
	}
	_, err := tryMerge(dir, "merge_method: linear\nmodels: [a.safetensors, c.safetensors]\nladle: {sparse: require}\n", Options{})
	if err == nil || !strings.Contains(err.Error(), `"fc.weight"`) {
		t.Errorf("differing zero patterns with sparse: require gave %v", err)
	}
	if _, err := tryMerge(dir, "merge_method: linear\nmodels: [a.safetensors, c.safetensors]\n", Options{}); err != nil {
		t.Errorf("differing zero patterns without require: %v", err)
	}
}

// F16 and BF16 inputs are widened exactly; out_dtype narrows the merged tensors only.
func TestDTypes(t *testing.T) {
	dir := t.TempDir()
	half := []testTensor{{"w", dtype.F16, []int64{64}}, {"b", dtype.BF16, []int64{8}}, {"n", dtype.I32, []int64{2}}}
	a := writeModel(t, filepath.Join(dir, "a.safetensors"), half, 1, 1, 0.1)
	b := writeModel(t, filepath.Join(dir, "b.safetensors"), half, 1, 2, 0.1)
	out := mergeToBytes(t, dir, "merge_method: linear\nmodels: [a.safetensors, b.safetensors]\nout_dtype: bfloat16\ndtype: float16\n", Options{})
	got, src := tensorsOf(t, out)
	for _, info := range src.Tensors() {
		want := map[string]dtype.DType{"w": dtype.BF16, "b": dtype.BF16, "n": dtype.I32}[info.Name]
		if info.DType != want {
			t.Errorf("%s is %s, want %s", info.Name, info.DType, want)
		}
	}
	for i := range a["w"] {
		want := dtype.BF16ToF32(dtype.F32ToBF16(float32((float64(a["w"][i]) + float64(b["w"][i])) / 2)))
		if got["w"][i] != want {
			t.Fatalf("w[%d] = %v, want %v", i, got["w"][i], want)
		}
	}
}
