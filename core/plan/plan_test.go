package plan

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/recipe"
)

// fineTunes writes a base and three fine-tunes of it into a new folder.
func fineTunes(t testing.TB) (dir string, base map[string][]float32, models []map[string][]float32) {
	dir = t.TempDir()
	base = writeModel(t, filepath.Join(dir, "base.safetensors"), layout, 1, 100, 0)
	for i, name := range []string{"a.safetensors", "b.safetensors", "c.safetensors"} {
		models = append(models, writeModel(t, filepath.Join(dir, name), layout, 1, uint64(10+i), 0.05))
	}
	return dir, base, models
}

func TestLinearSoupMatchesNaiveAverage(t *testing.T) {
	dir, _, models := fineTunes(t)
	out := mergeToBytes(t, dir, `
merge_method: linear
models:
  - model: a.safetensors
    parameters: {weight: 1}
  - model: b.safetensors
    parameters: {weight: 2}
  - model: c.safetensors
    parameters: {weight: 1}
`, Options{})
	got, src := tensorsOf(t, out)
	for name, a := range models[0] {
		b, c := models[1][name], models[2][name]
		for i := range a {
			want := float32((float64(a[i]) + 2*float64(b[i]) + float64(c[i])) / 4)
			if info, _ := ckpt.Lookup(src, name); info.DType == dtype.BF16 {
				want = dtype.BF16ToF32(dtype.F32ToBF16(want))
			}
			if !near(float64(got[name][i]), float64(want), 1e-6) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, got[name][i], want)
			}
		}
	}
	// The integer tensor comes from the first model, byte for byte; the BF16 one stays BF16.
	if v := got["norm.num_batches_tracked"]; v[0] != 1010 {
		t.Errorf("num_batches_tracked = %v, want the first model's 1010", v)
	}
	if info, _ := ckpt.Lookup(src, "embed.weight"); info.DType != dtype.BF16 {
		t.Errorf("embed.weight became %s", info.DType)
	}
	// The output says how it was made.
	r, err := recipe.Parse([]byte(src.Metadata()[recipe.MetadataKey]), "", "")
	if err != nil || r.MergeMethod != "linear" || len(r.Models) != 3 {
		t.Errorf("metadata recipe %v (%v)", src.Metadata()[recipe.MetadataKey], err)
	}
	if src.Metadata()["ladle.arch"] == "" {
		t.Error("the architecture spec of the inputs was not carried over")
	}
}

func TestIntegerTensorsComeFromTheBase(t *testing.T) {
	dir, _, _ := fineTunes(t)
	out := mergeToBytes(t, dir, "merge_method: ties\nbase_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {density: 0.5}\n", Options{})
	got, _ := tensorsOf(t, out)
	if v := got["norm.num_batches_tracked"]; v[0] != 1100 {
		t.Errorf("num_batches_tracked = %v, want the base's 1100", v)
	}
}

func TestTaskArithmeticLambdaZeroIsTheBase(t *testing.T) {
	dir, base, _ := fineTunes(t)
	out := mergeToBytes(t, dir, "merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {lambda: 0}\n", Options{})
	got, _ := tensorsOf(t, out)
	for name, b := range base {
		for i := range b {
			if got[name][i] != b[i] {
				t.Fatalf("%s[%d] = %v, want the base's %v", name, i, got[name][i], b[i])
			}
		}
	}
}

// Output bytes do not depend on the thread count, the order of the tensors in the
// non-base inputs, or anything but the recipe and the seed.
func TestDeterminism(t *testing.T) {
	dir, _, _ := fineTunes(t)
	// A copy of b with its tensors in another order.
	shuffled := append([]testTensor(nil), layout...)
	for i, j := 0, len(shuffled)-1; i < j; i, j = i+1, j-1 {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	writeModel(t, filepath.Join(dir, "b-shuffled.safetensors"), shuffled, 1, 11, 0.05)
	for _, method := range []string{"linear", "ties", "dare_ties", "dare_linear", "della", "breadcrumbs_ties", "model_stock", "task_arithmetic"} {
		recipeFor := func(b string, seed int) string {
			base := "base_model: base.safetensors\n"
			params := "parameters: {density: 0.6}\n"
			switch method {
			case "linear":
				base, params = "", ""
			case "model_stock", "task_arithmetic":
				params = ""
			case "della":
				params = "parameters: {density: 0.6, epsilon: 0.1}\n"
			}
			return "merge_method: " + method + "\n" + base + "models: [a.safetensors, " + b + ", c.safetensors]\n" + params +
				"ladle: {seed: " + string(rune('0'+seed)) + "}\n"
		}
		one := mergeToBytes(t, dir, recipeFor("b.safetensors", 7), Options{Threads: 1})
		eight := mergeToBytes(t, dir, recipeFor("b.safetensors", 7), Options{Threads: 8})
		if !bytes.Equal(one, eight) {
			t.Errorf("%s: 1 thread and 8 threads give different bytes", method)
		}
		if other := mergeToBytes(t, dir, recipeFor("b-shuffled.safetensors", 7), Options{Threads: 3}); !bytes.Equal(stripRecipe(t, one), stripRecipe(t, other)) {
			t.Errorf("%s: the tensor order of an input changed the merged tensors", method)
		}
		if again := mergeToBytes(t, dir, recipeFor("b.safetensors", 7), Options{}); !bytes.Equal(one, again) {
			t.Errorf("%s: the same recipe and seed gave other bytes", method)
		}
		reseeded := mergeToBytes(t, dir, recipeFor("b.safetensors", 8), Options{})
		random := strings.HasPrefix(method, "dare") || method == "della"
		if random == bytes.Equal(stripRecipe(t, one), stripRecipe(t, reseeded)) {
			t.Errorf("%s: another seed gave %s tensors", method, map[bool]string{true: "the same", false: "other"}[!random])
		}
		// --seed overrides the recipe's seed.
		if flag := mergeToBytes(t, dir, recipeFor("b.safetensors", 8), Options{Seed: 7, SeedSet: true}); !bytes.Equal(stripRecipe(t, one), stripRecipe(t, flag)) {
			t.Errorf("%s: Options.Seed did not override the recipe's seed", method)
		}
	}
}

// stripRecipe returns the tensors' data of a file, without its header (whose recipe
// names the input files).
func stripRecipe(t testing.TB, file []byte) []byte {
	_, src := tensorsOf(t, file)
	var b []byte
	for _, info := range src.Tensors() {
		d, _ := ckpt.ReadAll(src, info.Name)
		b = append(b, info.Name...)
		b = append(b, d...)
	}
	return b
}

func TestBadRecipesFailBeforeReadingTensors(t *testing.T) {
	dir, _, _ := fineTunes(t)
	writeModel(t, filepath.Join(dir, "other.safetensors"), []testTensor{{"conv1.weight", dtype.F32, []int64{8, 3, 3, 3}}, {"fc.weight", dtype.F32, []int64{10, 299}}, {"extra.weight", dtype.F32, []int64{2}}}, 1, 5, 0.1)
	os.WriteFile(filepath.Join(dir, "broken.safetensors"), []byte("not a checkpoint"), 0o644)
	cases := []struct{ yaml, want string }{
		{"merge_method: tie\nmodels: [a.safetensors]\n", `unknown method "tie" (did you mean "ties"?)`},
		{"merge_method: ties\nmodels: [a.safetensors, b.safetensors]\n", "base_model: missing"},
		{"merge_method: linear\nbase_model: base.safetensors\nmodels: [a.safetensors]\n", "takes no base model"},
		{"merge_method: linear\nmodels: [a.safetensors]\nparameters: {wieght: 1}\n", `did you mean "weight"`},
		{"merge_method: ties\nbase_model: base.safetensors\nmodels: [{model: a.safetensors, parameters: {density: 1.5}}]\n", "above its maximum 1"},
		{"merge_method: ties\nbase_model: base.safetensors\nmodels: [{model: a.safetensors, parameters: {density: [0.5, 2]}}]\n", "above its maximum"},
		{"merge_method: linear\nmodels: [{model: a.safetensors, parameters: {weight: yes}}]\n", "must be a number"},
		{"merge_method: linear\nmodels: [a.safetensors]\nparameters: {normalize: 3}\n", "true or false"},
		{"merge_method: ties\nbase_model: base.safetensors\nmodels: [{model: a.safetensors, parameters: {lambda: 2}}]\n", "global parameter"},
		{"merge_method: linear\nmodels: [a.safetensors]\nparameters: {trim_scope: model}\n", "Ladle setting"},
		{"merge_method: linear\nmodels: [a.safetensors]\nladle: {trim_scope: model}\n", "does not apply"},
		{"merge_method: linear\nmodels: [a.safetensors, missing.safetensors]\n", "missing.safetensors: no such file"},
		{"merge_method: linear\nmodels: [a.safetensors, broken.safetensors]\n", "broken.safetensors"},
		{"merge_method: linear\nmodels: [a.safetensors, other.safetensors]\n", "fc.weight ([10 299] here, [10 300]"},
		{"merge_method: linear\nmodels: [a.safetensors, other.safetensors]\n", "lacks 5 tensor(s)"},
		{"merge_method: linear\nmodels: [a.safetensors, other.safetensors]\n", "extra.weight"},
		{"merge_method: slerp\nbase_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\n", "at most 1 model besides the base, the recipe has 2"},
		{"merge_method: model_stock\nbase_model: base.safetensors\nmodels: [a.safetensors]\n", "at least 2 models besides the base"},
		{"merge_method: ties\nbase_model: base.safetensors\nmodels: [base.safetensors]\n", "ties needs at least 1 model besides the base, the recipe has 0"},
		{"merge_method: linear\nmodels: [a.safetensors]\nout_dtype: int8\n", "out_dtype"},
		{"merge_method: ties\nbase_model: base.safetensors\nmodels: [a.safetensors]\nladle: {trim_scope: model}\nparameters: {density: [0.1, 0.9]}\n", "one number for the whole model"},
		{"merge_method: dare_ties\nbase_model: base.safetensors\nmodels: [a.safetensors]\nladle: {trim_scope: model}\n", "does not apply to dare_ties"},
		{"merge_method: fisher\nmodels: [a.safetensors]\n", "fisher: missing"},
		{"merge_method: fisher\nmodels: [{model: a.safetensors, parameters: {fisher: nowhere.safetensors}}]\n", "nowhere.safetensors"},
	}
	for _, c := range cases {
		co := &countingOpener{}
		r, err := recipe.Parse([]byte(c.yaml), "recipe.yaml", dir)
		if err == nil {
			var p *Plan
			p, err = Prepare(r, co.open(dir))
			if p != nil {
				p.Close()
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant an error containing %q", c.yaml, err, c.want)
		}
		if n := co.reads.Load(); n != 0 {
			t.Errorf("%q: %d tensors were read before the recipe was rejected", c.yaml, n)
		}
	}
}

// A NaN in an input ends the merge with an error naming the tensor, unless allowed.
func TestNonFiniteOutputIsAnError(t *testing.T) {
	dir, _, _ := fineTunes(t)
	nan := math.Float32frombits(0x7fc00000)
	writeWith(t, filepath.Join(dir, "nan.safetensors"), "fc.bias", nan)
	_, err := tryMerge(dir, "merge_method: linear\nmodels: [a.safetensors, nan.safetensors]\n", Options{})
	if err == nil || !strings.Contains(err.Error(), `"fc.bias"`) || !strings.Contains(err.Error(), "allow_nonfinite") {
		t.Errorf("got %v; want an error naming fc.bias and the allow_nonfinite setting", err)
	}
	if _, err := tryMerge(dir, "merge_method: linear\nmodels: [a.safetensors, nan.safetensors]\nladle: {allow_nonfinite: true}\n", Options{}); err != nil {
		t.Errorf("allow_nonfinite: %v", err)
	}
	// An overflow of a narrower out_dtype is an error too.
	writeWith(t, filepath.Join(dir, "big.safetensors"), "fc.bias", 1e6)
	_, err = tryMerge(dir, "merge_method: linear\nmodels: [a.safetensors, big.safetensors]\nout_dtype: float16\n", Options{})
	if err == nil || !strings.Contains(err.Error(), `"fc.bias"`) {
		t.Errorf("float16 overflow: %v", err)
	}
}

// writeWith writes a copy of the layout whose first element of one tensor is v.
func writeWith(t *testing.T, path, tensor string, v float32) {
	writeModel(t, path, layout, 1, 77, 0.05)
	src, err := ckpt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var data [][]byte
	for _, info := range src.Tensors() {
		b, _ := ckpt.ReadAll(src, info.Name)
		if info.Name == tensor {
			dtype.EncodeF32(b[:4], []float32{v}, dtype.F32)
		}
		data = append(data, b)
	}
	infos := src.Tensors()
	src.Close()
	var buf bytes.Buffer
	w, _ := newTestWriter(&buf, infos)
	for i, info := range infos {
		w.WriteTensor(info.Name, data[i])
	}
	w.Close()
	os.WriteFile(path, buf.Bytes(), 0o644)
}

func TestCancel(t *testing.T) {
	dir, _, _ := fineTunes(t)
	r, _ := recipe.Parse([]byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n"), "", dir)
	p, err := Prepare(r, FileOpener(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	w, _ := newTestWriter(&buf, p.OutputTensors())
	done := 0
	err = p.Execute(ctx, w, Options{Progress: func(pr Progress) {
		done = pr.TensorsDone
		if pr.TensorsDone == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || done != 2 {
		t.Errorf("Execute after cancel: %v after %d tensors", err, done)
	}
}

func TestProgressCountsEveryTensorAndByte(t *testing.T) {
	dir, _, _ := fineTunes(t)
	r, _ := recipe.Parse([]byte("merge_method: ties\nbase_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\n"), "", dir)
	p, err := Prepare(r, FileOpener(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var last Progress
	calls := 0
	var buf bytes.Buffer
	w, _ := newTestWriter(&buf, p.OutputTensors())
	if err := p.Execute(context.Background(), w, Options{Progress: func(pr Progress) { last = pr; calls++ }}); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, tt := range layout {
		info := ckpt.Info{DType: tt.dt, Shape: tt.shape}
		if tt.dt.IsFloat() {
			want += 3 * info.Bytes()
		} else {
			want += info.Bytes()
		}
	}
	if calls != len(layout) || last.TensorsDone != len(layout) || last.TensorsTotal != len(layout) || last.BytesDone != want || last.BytesTotal != want {
		t.Errorf("%d calls, last %+v; want %d tensors and %d bytes", calls, last, len(layout), want)
	}
}

// Inputs read in place through memory maps and inputs copied into buffers give the
// same bytes.
func TestMappedAndBufferedReadsAgree(t *testing.T) {
	dir, _, _ := fineTunes(t)
	for _, r := range []string{
		"merge_method: linear\nmodels: [a.safetensors, b.safetensors, c.safetensors]\n",
		"merge_method: dare_ties\nbase_model: base.safetensors\nmodels: [a.safetensors, b.safetensors]\nparameters: {density: 0.5}\n",
	} {
		mapped := mergeToBytes(t, dir, r, Options{})
		readIntoBuffers = true
		buffered := mergeToBytes(t, dir, r, Options{})
		readIntoBuffers = false
		if !bytes.Equal(mapped, buffered) {
			t.Errorf("%q: mapped and buffered inputs give different bytes", r)
		}
	}
}
