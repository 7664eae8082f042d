package plan

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/eval"
	"ladle/core/nn"
	"ladle/core/recipe"
)

// The whole-model steps: greedy_soup's selection and the alignment step.

const netArch = `{"input_shape": [64], "input_scale": 0.0625, "layers": [
	{"op": "linear", "name": "fc1"}, {"op": "relu"}, {"op": "batchnorm", "name": "bn"},
	{"op": "linear", "name": "fc2"}, {"op": "relu"}, {"op": "linear", "name": "fc3"}]}`

// netTensors is base + scale·noise(seed) for the net of netArch (hidden 24 and 16).
func netTensors(baseSeed, seed uint64, scale float64) map[string]nn.Tensor {
	rb := rand.New(rand.NewPCG(baseSeed, 1))
	rs := rand.New(rand.NewPCG(seed, 2))
	mk := func(s ...int) nn.Tensor {
		n := 1
		for _, d := range s {
			n *= d
		}
		t := nn.Tensor{Shape: s, Data: make([]float32, n)}
		for i := range t.Data {
			t.Data[i] = float32(rb.NormFloat64()*0.3 + rs.NormFloat64()*scale)
		}
		return t
	}
	ts := map[string]nn.Tensor{
		"fc1.weight": mk(24, 64), "fc1.bias": mk(24),
		"bn.weight": mk(24), "bn.bias": mk(24), "bn.running_mean": mk(24), "bn.running_var": mk(24),
		"fc2.weight": mk(16, 24), "fc2.bias": mk(16), "fc3.weight": mk(10, 16), "fc3.bias": mk(10),
	}
	for i, v := range ts["bn.running_var"].Data {
		ts["bn.running_var"].Data[i] = v*v + 0.5
	}
	return ts
}

var netOrder = []string{"fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
	"fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"}

// writeNet writes a net checkpoint (F32, with an I64 counter worth counter), with the
// arch in its metadata when withArch.
func writeNet(t testing.TB, path string, ts map[string]nn.Tensor, counter int64, withArch bool) {
	t.Helper()
	var infos []ckpt.Info
	var data [][]byte
	for _, name := range netOrder {
		if name == "bn.num_batches_tracked" {
			b := make([]byte, 8)
			binary.LittleEndian.PutUint64(b, uint64(counter))
			infos = append(infos, ckpt.Info{Name: name, DType: dtype.I64, Shape: []int64{}})
			data = append(data, b)
			continue
		}
		tt := ts[name]
		shape := make([]int64, len(tt.Shape))
		for i, d := range tt.Shape {
			shape[i] = int64(d)
		}
		b := make([]byte, 4*len(tt.Data))
		if err := dtype.EncodeF32(b, tt.Data, dtype.F32); err != nil {
			t.Fatal(err)
		}
		infos = append(infos, ckpt.Info{Name: name, DType: dtype.F32, Shape: shape})
		data = append(data, b)
	}
	md := map[string]string{}
	if withArch {
		md[nn.MetadataKey] = netArch
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, infos, md)
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range infos {
		if err := w.WriteTensor(info.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeDigits writes 300 of the UCI digits as the split "val" (and 100 as the default
// split); it returns that split and samples 400 to 1400 for training.
func writeDigits(t testing.TB, path string) (val, train *eval.Dataset) {
	t.Helper()
	f, err := os.Open("../labs/data/digits.csv.gz")
	if os.IsNotExist(err) {
		t.Skip("digits data not found")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	d, err := eval.ImportCSV(z, -1)
	if err != nil {
		t.Fatal(err)
	}
	val, err = eval.NewDataset(d.Shape, d.F32[:300*64], d.Labels[:300])
	if err != nil {
		t.Fatal(err)
	}
	val.Split = "val"
	def, err := eval.NewDataset(d.Shape, d.F32[300*64:400*64], d.Labels[300:400])
	if err != nil {
		t.Fatal(err)
	}
	if err := eval.WriteFile(path, def, val); err != nil {
		t.Fatal(err)
	}
	tr, err := eval.NewDataset(d.Shape, d.F32[400*64:1400*64], d.Labels[400:1400])
	if err != nil {
		t.Fatal(err)
	}
	return val, tr
}

// trainNet runs a few epochs of plain SGD on the tensors in place.
func trainNet(t testing.TB, arch *nn.Arch, ts map[string]nn.Tensor, d *eval.Dataset, epochs int) {
	t.Helper()
	m, err := nn.NewModel(arch, ts)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 25
	g := m.NewGrads()
	dout := make([]float32, batch*m.OutputSize())
	for range epochs {
		for lo := 0; lo+batch <= d.Len(); lo += batch {
			p, err := m.Record(d.Batch(nil, lo, lo+batch), batch, nn.Train)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nn.CrossEntropy(p.Output(), d.Labels[lo:lo+batch], m.OutputKind(), dout); err != nil {
				t.Fatal(err)
			}
			g.Zero()
			if _, err := p.Backward(dout, g); err != nil {
				t.Fatal(err)
			}
			for i, prm := range m.Params() {
				if gr := g.At(i); gr != nil {
					for j := range prm.Data {
						prm.Data[j] -= 0.05 * gr[j]
					}
				}
			}
		}
	}
}

// noisy is ts plus scale·N(0, 1) noise drawn from seed (running_var kept positive).
func noisy(ts map[string]nn.Tensor, seed uint64, scale float64) map[string]nn.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := map[string]nn.Tensor{}
	for _, name := range netOrder {
		tt, ok := ts[name]
		if !ok {
			continue
		}
		data := make([]float32, len(tt.Data))
		for i, v := range tt.Data {
			data[i] = v + float32(scale*rng.NormFloat64())
			if name == "bn.running_var" {
				data[i] = v
			}
		}
		out[name] = nn.Tensor{Shape: tt.Shape, Data: data}
	}
	return out
}

// runPlan prepares, preprocesses and executes a recipe, returning the plan and the output.
func runPlan(t testing.TB, dir, yaml string, align bool) (*Plan, []byte) {
	t.Helper()
	r, err := recipe.Parse([]byte(yaml), "recipe.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(r, FileOpener(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.SetAlign(align); err != nil {
		t.Fatal(err)
	}
	if err := p.Preprocess(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, p.OutputTensors(), p.Metadata(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(context.Background(), w, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p, buf.Bytes()
}

// rawTensors maps each tensor of a safetensors file to its bytes.
func rawTensors(t testing.TB, file []byte) (map[string][]byte, map[string]string) {
	t.Helper()
	src, err := safetensors.Open(bytes.NewReader(file), int64(len(file)), "out")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, info := range src.Tensors() {
		b, err := ckpt.ReadAll(src, info.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[info.Name] = b
	}
	return out, src.Metadata()
}

func TestGreedySoupPlan(t *testing.T) {
	dir := t.TempDir()
	val, tr := writeDigits(t, filepath.Join(dir, "digits.safetensors"))
	arch, err := nn.ParseArch([]byte(netArch))
	if err != nil {
		t.Fatal(err)
	}
	base := netTensors(1, 1, 0)
	trainNet(t, arch, base, tr, 3)
	names := []string{"m0.safetensors", "m1.safetensors", "m2.safetensors", "m3.safetensors", "m4.safetensors"}
	var models []map[string]nn.Tensor
	for i, scale := range []float64{0.05, 0.6, 0.08, 0.1, 0.06} {
		ts := noisy(base, uint64(10+i), scale)
		writeNet(t, filepath.Join(dir, names[i]), ts, int64(100+i), true)
		models = append(models, ts)
	}
	want, err := eval.GreedySoup(names, models, eval.AccuracyScorer(arch, val, 0, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Ingredients) < 2 || len(want.Ingredients) == len(names) {
		t.Fatalf("the test wants a soup that keeps some models and rejects others: individual %v, steps %+v", want.Individual, want.Steps)
	}
	yaml := "merge_method: greedy_soup\nmodels: [" + strings.Join(names, ", ") + "]\nladle: {eval: {data: digits.safetensors, split: val}}\n"
	p, out := runPlan(t, dir, yaml, false)
	got := p.GreedyResult()
	if strings.Join(got.Ingredients, ",") != strings.Join(want.Ingredients, ",") || got.Accuracy != want.Accuracy || len(got.Steps) != len(want.Steps) {
		t.Fatalf("plan's selection %v %+v, eval.GreedySoup's %v %+v", got.Ingredients, got.Steps, want.Ingredients, want.Steps)
	}
	for i := range got.Steps {
		if got.Steps[i] != want.Steps[i] {
			t.Errorf("step %d: %+v, want %+v", i, got.Steps[i], want.Steps[i])
		}
	}
	tensors, md := rawTensors(t, out)
	var rec greedyMetadata
	if err := json.Unmarshal([]byte(md["ladle.greedy_soup"]), &rec); err != nil || strings.Join(rec.Ingredients, ",") != strings.Join(want.Ingredients, ",") || len(rec.Steps) != len(names) || rec.Split != "val" {
		t.Errorf("metadata ladle.greedy_soup %q (%v)", md["ladle.greedy_soup"], err)
	}
	if !strings.Contains(md[recipe.MetadataKey], "greedy_soup") || md[nn.MetadataKey] != netArch {
		t.Errorf("metadata %v", md)
	}
	// The bytes equal a linear merge of the ingredients in the order they joined.
	linear := mergeToBytes(t, dir, "merge_method: linear\nmodels: ["+strings.Join(want.Ingredients, ", ")+"]\n", Options{})
	lt, _ := rawTensors(t, linear)
	for _, name := range netOrder {
		if name == "bn.num_batches_tracked" {
			best := int64(binary.LittleEndian.Uint64(tensors[name]))
			if best != int64(100+want.Chosen[0]) {
				t.Errorf("counter %d, want the best model's %d", best, 100+want.Chosen[0])
			}
			continue
		}
		if !bytes.Equal(tensors[name], lt[name]) {
			t.Errorf("%s differs from the linear merge of %v", name, want.Ingredients)
		}
	}
	// The soup scores what the selection said.
	src, err := safetensors.Open(bytes.NewReader(out), int64(len(out)), "soup")
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Load(arch, src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eval.Evaluate(m, val, 0)
	if err != nil || res.Accuracy != want.Accuracy {
		t.Errorf("the written soup scores %v, the selection said %v (%v)", res.Accuracy, want.Accuracy, err)
	}
	t.Logf("individual %.3f; steps %+v; soup %v at %.3f", want.Individual, want.Steps, want.Ingredients, want.Accuracy)

	// strict, and an ARCH.json beside models that carry no arch.
	if err := os.WriteFile(filepath.Join(dir, "arch.json"), []byte(netArch), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, ts := range models {
		writeNet(t, filepath.Join(dir, names[i]), ts, int64(100+i), false)
	}
	strict, err := eval.GreedySoup(names, models, eval.AccuracyScorer(arch, val, 0, 0), true)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = runPlan(t, dir, "merge_method: greedy_soup\nmodels: ["+strings.Join(names, ", ")+"]\nparameters: {strict: true}\nladle: {eval: {arch: arch.json, data: digits.safetensors, split: val}}\n", false)
	if strings.Join(p.GreedyResult().Ingredients, ",") != strings.Join(strict.Ingredients, ",") {
		t.Errorf("strict: %v, want %v", p.GreedyResult().Ingredients, strict.Ingredients)
	}
}

func TestGreedySoupPlanErrors(t *testing.T) {
	dir := t.TempDir()
	writeDigits(t, filepath.Join(dir, "digits.safetensors"))
	writeNet(t, filepath.Join(dir, "a.safetensors"), netTensors(1, 1, 0.1), 1, true)
	writeNet(t, filepath.Join(dir, "b.safetensors"), netTensors(1, 2, 0.1), 1, false)
	writeNet(t, filepath.Join(dir, "c.safetensors"), netTensors(1, 3, 0.1), 1, false)
	os.WriteFile(filepath.Join(dir, "wide.json"), []byte(strings.Replace(netArch, "[64]", "[65]", 1)), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"input_shape": [64], "layers": [{"op": "linear", "name": "nope"}]}`), 0o644)
	cases := []struct{ yaml, want string }{
		{"merge_method: greedy_soup\nmodels: [a.safetensors, b.safetensors]\n", "ladle.eval: missing"},
		{"merge_method: greedy_soup\nmodels: [a.safetensors, b.safetensors]\nladle: {eval: {data: digits.safetensors, split: nosuch}}\n", `no split "nosuch"`},
		{"merge_method: greedy_soup\nmodels: [a.safetensors, b.safetensors]\nladle: {eval: {data: missing.safetensors}}\n", "ladle.eval.data: cannot open"},
		{"merge_method: greedy_soup\nmodels: [b.safetensors, c.safetensors]\nladle: {eval: {data: digits.safetensors}}\n", "ladle.eval.arch: missing"},
		{"merge_method: greedy_soup\nmodels: [b.safetensors, c.safetensors]\nladle: {eval: {arch: none.json, data: digits.safetensors}}\n", "cannot read none.json"},
		{"merge_method: greedy_soup\nmodels: [b.safetensors, c.safetensors]\nladle: {eval: {arch: bad.json, data: digits.safetensors}}\n", `"nope.weight"`},
		{"merge_method: greedy_soup\nmodels: [b.safetensors, c.safetensors]\nladle: {eval: {arch: wide.json, data: digits.safetensors}}\n", "does not fit"},
		{"merge_method: greedy_soup\nmodels: [a.safetensors, b.safetensors]\nparameters: {strict: maybe}\nladle: {eval: {data: digits.safetensors}}\n", "strict"},
	}
	for _, c := range cases {
		var counter countingOpener
		r, err := recipe.Parse([]byte(c.yaml), "recipe.yaml", dir)
		if err != nil {
			t.Fatalf("%s: %v", c.yaml, err)
		}
		p, err := Prepare(r, counter.open(dir))
		if err == nil {
			p.Close()
			t.Errorf("%s: no error", c.yaml)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.yaml, err, c.want)
		}
		if n := counter.reads.Load(); n != 0 {
			t.Errorf("%s: %d tensors read before the error", c.yaml, n)
		}
	}
}

// Split "test" names the default split x/y of a file that has one (DESIGN.md: `ladle
// eval --split test` reads x/y), as for `ladle eval`; the default split "" too.
func TestGreedySoupTestSplit(t *testing.T) {
	dir := t.TempDir()
	writeDigits(t, filepath.Join(dir, "digits.safetensors"))
	writeNet(t, filepath.Join(dir, "a.safetensors"), netTensors(1, 1, 0.1), 1, true)
	writeNet(t, filepath.Join(dir, "b.safetensors"), netTensors(1, 2, 0.1), 1, true)
	var got []string
	for _, split := range []string{"test", ""} {
		p, _ := runPlan(t, dir, "merge_method: greedy_soup\nmodels: [a.safetensors, b.safetensors]\nladle: {eval: {data: digits.safetensors, split: '"+split+"'}}\n", false)
		g := p.GreedyResult()
		got = append(got, fmt.Sprintf("%v %v %+v", g.Ingredients, g.Accuracy, g.Steps))
	}
	if got[0] != got[1] {
		t.Errorf("split test selects %s; the default split %s", got[0], got[1])
	}
}

// The alignment step: a model that is a permutation of the first is aligned back to
// it, so their average is the first model; Fisher companions move with their model.
func TestAlignStep(t *testing.T) {
	dir := t.TempDir()
	arch, err := nn.ParseArch([]byte(netArch))
	if err != nil {
		t.Fatal(err)
	}
	a := netTensors(1, 1, 0.1)
	rng := rand.New(rand.NewPCG(3, 3))
	perms := map[string][]int{"fc1": rng.Perm(24), "fc2": rng.Perm(16)}
	b, err := eval.Permute(arch, a, perms)
	if err != nil {
		t.Fatal(err)
	}
	writeNet(t, filepath.Join(dir, "a.safetensors"), a, 5, true)
	writeNet(t, filepath.Join(dir, "b.safetensors"), b, 6, true)
	yaml := "merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n"
	aBytes, _ := rawTensors(t, mustRead(t, filepath.Join(dir, "a.safetensors")))

	_, plain := runPlan(t, dir, yaml, false)
	pt, _ := rawTensors(t, plain)
	if bytes.Equal(pt["fc1.weight"], aBytes["fc1.weight"]) {
		t.Fatal("without alignment the average is the first model already")
	}
	p, out := runPlan(t, dir, yaml, true)
	if !p.Aligned() {
		t.Error("Aligned() is false")
	}
	got, md := rawTensors(t, out)
	for _, name := range netOrder {
		if !bytes.Equal(got[name], aBytes[name]) {
			t.Errorf("%s: the aligned soup is not the first model", name)
		}
	}
	var rec alignMetadata
	if err := json.Unmarshal([]byte(md["ladle.align"]), &rec); err != nil || rec.Reference != "a.safetensors" || len(rec.Models) != 1 ||
		rec.Models[0].Model != "b.safetensors" || rec.Models[0].Report.DistanceAfter != 0 || rec.Models[0].Report.DistanceBefore == 0 {
		t.Errorf("ladle.align %s (%v)", md["ladle.align"], err)
	}
	if strings.Contains(md["ladle.align"], "perm") {
		t.Error("the permutations went into the metadata")
	}

	// fisher: companions permuted alike, so the merge of A and its permutation is A.
	fa := netTensors(9, 9, 1)
	for _, tt := range fa {
		for i, v := range tt.Data {
			tt.Data[i] = v*v + 0.01
		}
	}
	fb, err := eval.Permute(arch, fa, perms)
	if err != nil {
		t.Fatal(err)
	}
	writeNet(t, filepath.Join(dir, "fa.safetensors"), fa, 0, false)
	writeNet(t, filepath.Join(dir, "fb.safetensors"), fb, 0, false)
	fyaml := "merge_method: fisher\nmodels: [{model: a.safetensors, parameters: {fisher: fa.safetensors}}, {model: b.safetensors, parameters: {fisher: fb.safetensors}}]\n"
	_, out = runPlan(t, dir, fyaml, true)
	got, _ = rawTensors(t, out)
	for _, name := range netOrder {
		if !bytes.Equal(got[name], aBytes[name]) {
			t.Errorf("fisher: %s: the aligned merge is not the first model", name)
		}
	}
	// Without a permutation of the Fisher values, the aligned merge would differ: the
	// unaligned one does.
	_, out = runPlan(t, dir, fyaml, false)
	got, _ = rawTensors(t, out)
	if bytes.Equal(got["fc1.weight"], aBytes["fc1.weight"]) {
		t.Error("fisher without alignment gives the first model")
	}
}

func TestAlignStepErrors(t *testing.T) {
	dir := t.TempDir()
	writeNet(t, filepath.Join(dir, "a.safetensors"), netTensors(1, 1, 0.1), 1, false)
	writeNet(t, filepath.Join(dir, "b.safetensors"), netTensors(1, 2, 0.1), 1, false)
	r, err := recipe.Parse([]byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\n"), "recipe.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(r, FileOpener(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetAlign(true); err == nil || !strings.Contains(err.Error(), "ladle.arch") {
		t.Errorf("no arch: %v", err)
	}
	if err := p.SetAlign(false); err != nil || p.Aligned() {
		t.Error(err)
	}
}
