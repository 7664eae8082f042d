package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
	"ladle/core/eval"
	"ladle/core/nn"
)

// Tests of align, fisher, and the whole-model steps of merge (greedy_soup,
// `ladle: {align: true}`), on the toy classifier of eval_test.go.

var toyOrder = []string{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}

func toyArchSpec(t *testing.T) *nn.Arch {
	t.Helper()
	a, err := nn.ParseArch([]byte(toyArch))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// readToy reads a toy checkpoint's tensors.
func readToy(t *testing.T, path string) map[string]nn.Tensor {
	t.Helper()
	src, err := ckpt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ts, err := nn.ReadTensors(toyArchSpec(t), src)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// writeToyTensors writes toy tensors (F32, with the arch in the metadata).
func writeToyTensors(t *testing.T, path string, ts map[string]nn.Tensor) {
	t.Helper()
	var infos []ckpt.Info
	var data [][]byte
	for _, name := range toyOrder {
		tt := ts[name]
		shape := make([]int64, len(tt.Shape))
		for i, d := range tt.Shape {
			shape[i] = int64(d)
		}
		b := make([]byte, 4*len(tt.Data))
		dtype.EncodeF32(b, tt.Data, dtype.F32)
		infos = append(infos, ckpt.Info{Name: name, DType: dtype.F32, Shape: shape})
		data = append(data, b)
	}
	writeSafetensorsMeta(t, path, infos, data, map[string]string{nn.MetadataKey: toyArch, "note": "kept"})
}

func metadataOf(t *testing.T, path string) map[string]string {
	t.Helper()
	src, err := ckpt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	return src.Metadata()
}

func TestAlignCommand(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors"), filepath.Join(dir, "c.safetensors")
	writeToyModel(t, a, 1, true)
	ta := readToy(t, a)
	pb, err := eval.Permute(toyArchSpec(t), ta, map[string][]int{"fc1": {3, 0, 4, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	writeToyTensors(t, b, pb)
	writeToyModel(t, c, 2, false)
	data := toyData(t, dir)

	// A permutation of A comes back as A, bit for bit.
	out := filepath.Join(dir, "b-aligned.safetensors")
	code, stdout, stderr := runCLI(t, "align", a, b, "-o", out)
	if code != 0 {
		t.Fatalf("align: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "fc1: 5 units, 5 moved") || !strings.Contains(stdout, "→ 0;") {
		t.Errorf("align printed %q", stdout)
	}
	for _, name := range toyOrder {
		_, want := readTensor(t, a, name)
		_, got := readTensor(t, out, name)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the aligned permutation is not A", name)
		}
	}
	md := metadataOf(t, out)
	if md["note"] != "kept" || md[nn.MetadataKey] != toyArch || !strings.Contains(md[alignKey], `"distance_after":0`) {
		t.Errorf("metadata %v", md)
	}

	// An independent model: same function, closer to A; the same command gives the same bytes.
	arch := filepath.Join(dir, "arch.json")
	os.WriteFile(arch, []byte(toyArch), 0o644)
	out2, out3 := filepath.Join(dir, "c1.safetensors"), filepath.Join(dir, "c2.safetensors")
	for _, o := range []string{out2, out3} {
		if code, _, stderr := runCLI(t, "align", a, c, "--arch", arch, "-o", o, "--seed", "3"); code != 0 {
			t.Fatalf("align c: exit %d: %s", code, stderr)
		}
	}
	b2, _ := os.ReadFile(out2)
	b3, _ := os.ReadFile(out3)
	if !bytes.Equal(b2, b3) {
		t.Error("the same align command gave different bytes")
	}
	var rec struct {
		Report eval.AlignReport `json:"report"`
		Seed   uint64           `json:"seed"`
	}
	if err := json.Unmarshal([]byte(metadataOf(t, out2)[alignKey]), &rec); err != nil || rec.Seed != 3 {
		t.Fatalf("%v %+v", err, rec)
	}
	if !(rec.Report.DistanceAfter <= rec.Report.DistanceBefore) {
		t.Errorf("distance %v → %v", rec.Report.DistanceBefore, rec.Report.DistanceAfter)
	}
	if metadataOf(t, out2)[nn.MetadataKey] == "" {
		t.Error("the aligned model carries no arch")
	}
	before, after := evalJSON(t, c, "--arch", arch, "--data", data), evalJSON(t, out2, "--data", data)
	if before.Accuracy != after.Accuracy || math.Abs(before.Loss-after.Loss) > 1e-5 {
		t.Errorf("alignment changed the function: %+v → %+v", before, after)
	}
	code, stdout, _ = runCLI(t, "align", a, c, "--arch", arch, "-o", out3, "--json")
	var rep eval.AlignReport
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || len(rep.Groups) != 1 || len(rep.Groups[0].Perm) != 5 {
		t.Errorf("--json: exit %d, %q", code, stdout)
	}

	// Mistakes.
	for _, args := range [][]string{{"align", a}, {"align", a, b}, {"align", a, b, "-o", out, "--seed", "x"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, stderr := runCLI(t, "align", c, c, "-o", out); code != 1 || !strings.Contains(stderr, "ladle.arch") {
		t.Errorf("no arch: exit %d: %s", code, stderr)
	}
}

// A recipe with `ladle: {align: true}` aligns before averaging: the soup of A and a
// permutation of A is A.
func TestMergeWithAlign(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	writeToyModel(t, a, 1, true)
	pb, err := eval.Permute(toyArchSpec(t), readToy(t, a), map[string][]int{"fc1": {1, 2, 3, 4, 0}})
	if err != nil {
		t.Fatal(err)
	}
	writeToyTensors(t, b, pb)
	recipePath := filepath.Join(dir, "r.yaml")
	os.WriteFile(recipePath, []byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\nladle: {align: true, seed: 4}\n"), 0o644)
	out := filepath.Join(dir, "soup.safetensors")
	code, stdout, stderr := runCLI(t, "merge", recipePath, "-o", out, "--quiet")
	if code != 0 {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "aligned b.safetensors to a.safetensors") {
		t.Errorf("merge printed %q", stdout)
	}
	for _, name := range toyOrder {
		_, want := readTensor(t, a, name)
		_, got := readTensor(t, out, name)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the aligned soup is not A", name)
		}
	}
	md := metadataOf(t, out)
	if !strings.Contains(md[alignKey], `"reference":"a.safetensors"`) || !strings.Contains(md["ladle.recipe"], "seed: 4") {
		t.Errorf("metadata %v", md)
	}
	os.WriteFile(recipePath, []byte("merge_method: linear\nmodels: [a.safetensors, b.safetensors]\nladle: {align: sometimes}\n"), 0o644)
	if code, _, stderr := runCLI(t, "merge", recipePath, "-o", out); code == 0 || !strings.Contains(stderr, "ladle.align") {
		t.Errorf("align: sometimes: exit %d: %s", code, stderr)
	}
}

func TestFisherCommand(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	writeToyModel(t, model, 3, true)
	data := toyData(t, dir)
	f1, f2, f3 := filepath.Join(dir, "f1.safetensors"), filepath.Join(dir, "f2.safetensors"), filepath.Join(dir, "f3.safetensors")
	for _, o := range []string{f1, f2} {
		code, stdout, stderr := runCLI(t, "fisher", model, "--data", data, "-o", o, "--seed", "5", "--threads", "2")
		if code != 0 {
			t.Fatalf("fisher: exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "over 60 sample(s)") {
			t.Errorf("fisher printed %q", stdout)
		}
	}
	b1, _ := os.ReadFile(f1)
	b2, _ := os.ReadFile(f2)
	if !bytes.Equal(b1, b2) {
		t.Error("the same fisher command gave different bytes")
	}
	if code, _, stderr := runCLI(t, "fisher", model, "--data", data, "-o", f3, "--seed", "6", "--samples", "20"); code != 0 {
		t.Fatalf("fisher: %s", stderr)
	}
	b3, _ := os.ReadFile(f3)
	if bytes.Equal(b1, b3) {
		t.Error("seed and samples change nothing")
	}
	// The values are eval.Fisher's, with the model's names and shapes.
	m, err := nn.NewModel(toyArchSpec(t), readToy(t, model))
	if err != nil {
		t.Fatal(err)
	}
	d, err := eval.LoadDataset(data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := eval.Fisher(m, d, eval.FisherOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range toyOrder {
		info, raw := readTensor(t, f1, name)
		mi, _ := readTensor(t, model, name)
		if info.DType != dtype.F32 || !slices.Equal(info.Shape, mi.Shape) {
			t.Errorf("%s: %v %v, model %v", name, info.DType, info.Shape, mi.Shape)
		}
		got := make([]float32, info.NumElements())
		dtype.DecodeF32(got, raw, dtype.F32)
		for i, v := range got {
			if v != want[name].Data[i] || v < 0 {
				t.Fatalf("%s[%d] = %v, want %v", name, i, v, want[name].Data[i])
			}
		}
	}
	var rec fisherRecord
	if err := json.Unmarshal([]byte(metadataOf(t, f3)[fisherKey]), &rec); err != nil || rec.Samples != 20 || rec.Seed != 6 {
		t.Errorf("metadata %+v (%v)", rec, err)
	}
	for _, args := range [][]string{{"fisher", model, "-o", f3}, {"fisher", model, "--data", data}, {"fisher", model, "--data", data, "-o", f3, "--samples", "-1"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// End to end: two models, their Fisher checkpoints, a fisher merge.
func TestFisherMergeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir)
	for i, n := range []string{"a", "b"} {
		writeToyModel(t, filepath.Join(dir, n+".safetensors"), uint64(10+i), true)
		if code, _, stderr := runCLI(t, "fisher", filepath.Join(dir, n+".safetensors"), "--data", data, "-o", filepath.Join(dir, n+".fisher.safetensors")); code != 0 {
			t.Fatalf("fisher %s: %s", n, stderr)
		}
	}
	recipePath := filepath.Join(dir, "fisher.yaml")
	os.WriteFile(recipePath, []byte(`merge_method: fisher
models:
  - model: a.safetensors
    parameters: {fisher: a.fisher.safetensors}
  - model: b.safetensors
    parameters: {fisher: b.fisher.safetensors, weight: 2}
`), 0o644)
	out := filepath.Join(dir, "merged.safetensors")
	if code, _, stderr := runCLI(t, "merge", recipePath, "-o", out, "--quiet"); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	ta, tb := readToy(t, filepath.Join(dir, "a.safetensors")), readToy(t, filepath.Join(dir, "b.safetensors"))
	fa, fb := readToy(t, filepath.Join(dir, "a.fisher.safetensors")), readToy(t, filepath.Join(dir, "b.fisher.safetensors"))
	got := readToy(t, out)
	for _, name := range toyOrder {
		for i, v := range got[name].Data {
			wa := math.Max(float64(fa[name].Data[i]), 1e-6)
			wb := 2 * math.Max(float64(fb[name].Data[i]), 1e-6)
			want := (wa*float64(ta[name].Data[i]) + wb*float64(tb[name].Data[i])) / (wa + wb)
			if math.Abs(float64(v)-want) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, v, want)
			}
		}
	}
	if r := evalJSON(t, out, "--data", data); r.N != 60 {
		t.Errorf("the merged model does not evaluate: %+v", r)
	}
}

func TestGreedySoupCommand(t *testing.T) {
	dir := t.TempDir()
	data := toyData(t, dir)
	var names []string
	for i := range 4 {
		n := []string{"m0.safetensors", "m1.safetensors", "m2.safetensors", "m3.safetensors"}[i]
		writeToyModel(t, filepath.Join(dir, n), uint64(20+i), true)
		names = append(names, n)
	}
	recipePath := filepath.Join(dir, "soup.yaml")
	os.WriteFile(recipePath, []byte("merge_method: greedy_soup\nmodels: ["+strings.Join(names, ", ")+"]\nladle: {eval: {data: toy.safetensors}}\n"), 0o644)
	out := filepath.Join(dir, "soup.safetensors")
	code, stdout, stderr := runCLI(t, "merge", recipePath, "-o", out, "--quiet")
	if code != 0 {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	var rec struct {
		Ingredients []string          `json:"ingredients"`
		Steps       []eval.GreedyStep `json:"steps"`
		Accuracy    float64           `json:"accuracy"`
	}
	md := metadataOf(t, out)
	if err := json.Unmarshal([]byte(md["ladle.greedy_soup"]), &rec); err != nil || len(rec.Steps) != 4 || len(rec.Ingredients) == 0 {
		t.Fatalf("metadata %q (%v)", md["ladle.greedy_soup"], err)
	}
	if !strings.Contains(stdout, "greedy soup on toy.safetensors") || !strings.Contains(stdout, "1. "+rec.Steps[0].Model) ||
		!strings.Contains(stdout, "ingredients ("+string(rune('0'+len(rec.Ingredients)))+"): "+strings.Join(rec.Ingredients, ", ")) {
		t.Errorf("merge printed %q", stdout)
	}
	t.Logf("%s", stdout)
	col := -1 // the steps' accuracy column lines up
	for _, line := range strings.Split(stdout, "\n") {
		if i := strings.Index(line, " accuracy "); i >= 0 && strings.Contains(line, ". ") {
			if col >= 0 && i != col {
				t.Errorf("step lines are not aligned:\n%s", stdout)
				break
			}
			col = i
		}
	}
	if r := evalJSON(t, out, "--data", data); r.Accuracy != rec.Accuracy {
		t.Errorf("the soup scores %v, the record says %v", r.Accuracy, rec.Accuracy)
	}
	// The output is the linear merge of the ingredients in the order they joined.
	lin := filepath.Join(dir, "linear.yaml")
	os.WriteFile(lin, []byte("merge_method: linear\nmodels: ["+strings.Join(rec.Ingredients, ", ")+"]\n"), 0o644)
	linOut := filepath.Join(dir, "linear.safetensors")
	if code, _, stderr := runCLI(t, "merge", lin, "-o", linOut, "--quiet"); code != 0 {
		t.Fatal(stderr)
	}
	for _, name := range toyOrder {
		_, a := readTensor(t, out, name)
		_, b := readTensor(t, linOut, name)
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the linear merge of the ingredients", name)
		}
	}
	// Without an evaluator: a clear error, and nothing written.
	os.WriteFile(recipePath, []byte("merge_method: greedy_soup\nmodels: ["+strings.Join(names, ", ")+"]\n"), 0o644)
	none := filepath.Join(dir, "none.safetensors")
	if code, _, stderr := runCLI(t, "merge", recipePath, "-o", none); code != 1 || !strings.Contains(stderr, "ladle.eval: missing") {
		t.Errorf("no evaluator: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(none); err == nil {
		t.Error("an output was written")
	}
	code, stdout, _ = runCLI(t, "methods", "--json", "greedy_soup")
	if code != 0 || !strings.Contains(stdout, `"needs_eval": true`) {
		t.Errorf("methods: %q", stdout)
	}
}
