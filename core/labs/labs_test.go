package labs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
	"ladle/core/eval"
	"ladle/core/nn"
	"ladle/core/recipe"
)

// The labs are built once per test binary, into a temporary folder; the tests check
// them there, compare them with the committed public/labs, and build them a second
// time to compare bytes.

var (
	buildOnce sync.Once
	builtDir  string
	built     []*Built
	buildErr  error
	tmpRoot   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

func buildLabs(t *testing.T) (string, []*Built) {
	t.Helper()
	buildOnce.Do(func() {
		tmpRoot, buildErr = os.MkdirTemp("", "ladle-labs-test-")
		if buildErr != nil {
			return
		}
		builtDir = filepath.Join(tmpRoot, "a")
		built, buildErr = Build(builtDir, Options{})
	})
	if errors.Is(buildErr, ErrNoMNIST) {
		t.Skipf("building the labs: %v", buildErr)
	}
	if buildErr != nil {
		t.Fatalf("building the labs: %v", buildErr)
	}
	return builtDir, built
}

func labByName(t *testing.T, name string) (string, *Lab) {
	t.Helper()
	dir, all := buildLabs(t)
	for _, b := range all {
		if b.Name == name {
			return filepath.Join(dir, name), b.Lab
		}
	}
	t.Fatalf("no lab %q was built", name)
	return "", nil
}

// Every claim of every lab holds on the numbers the build measured.
func TestClaimsHold(t *testing.T) {
	_, all := buildLabs(t)
	if len(all) != len(All()) {
		t.Fatalf("built %d labs, want %d", len(all), len(All()))
	}
	for _, b := range all {
		if len(b.Lab.Claims) == 0 {
			t.Errorf("%s: no claims", b.Name)
		}
		for _, c := range b.Lab.Claims {
			if !c.Holds {
				t.Errorf("%s: claim does not hold: %s", b.Name, c.Claim)
			}
		}
	}
}

// Helpers that re-measure a lab from its files with package nn and core/plan, not
// with the trainer's own code.

func loadModel(t *testing.T, dir, file string) *nn.Model {
	t.Helper()
	src, err := ckpt.Open(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	arch, err := nn.ArchOf(src)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Load(arch, src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mergeModel(t *testing.T, dir, recipeFile string) *nn.Model {
	t.Helper()
	b := &builder{dir: dir}
	r, err := b.runRecipe(recipeFile)
	if err != nil {
		t.Fatal(err)
	}
	src, err := ckpt.OpenReaderAt(bytes.NewReader(r.data), int64(len(r.data)), recipeFile)
	if err != nil {
		t.Fatal(err)
	}
	arch, err := nn.ArchOf(src)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Load(arch, src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func loadSplit(t *testing.T, dir, split string) *eval.Dataset {
	t.Helper()
	d, err := eval.LoadSplit(filepath.Join(dir, "data.safetensors"), split)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func accuracy(t *testing.T, m *nn.Model, d *eval.Dataset) float64 {
	t.Helper()
	r, err := eval.Evaluate(m, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r.Accuracy
}

// closeAcc compares a number of lab.json (rounded to 4 decimals) with a re-measured one.
// Package nn and the trainer round differently in the last bits, which may flip a
// sample whose top two outputs tie to within that: allow one sample.
func closeAcc(t *testing.T, what string, reported, measured float64, n int) {
	t.Helper()
	if math.Abs(reported-measured) > 1.0/float64(n)+1e-4 {
		t.Errorf("%s: lab.json says %.4f, package nn measures %.4f", what, reported, measured)
	}
}

func TestSoupsClaims(t *testing.T) {
	dir, lab := labByName(t, "soups")
	test, val := loadSplit(t, dir, ""), loadSplit(t, dir, "val")
	var testAcc, valAcc []float64
	for _, f := range lab.Files {
		if !strings.HasPrefix(f, "finetune-") {
			continue
		}
		m := loadModel(t, dir, f)
		testAcc, valAcc = append(testAcc, accuracy(t, m, test)), append(valAcc, accuracy(t, m, val))
		closeAcc(t, f, lab.Results.Ingredients[len(testAcc)-1].Accuracy, testAcc[len(testAcc)-1], test.Len())
	}
	if len(testAcc) < 8 {
		t.Fatalf("%d fine-tunes, want at least 8", len(testAcc))
	}
	best := 0
	for i, a := range valAcc {
		if a > valAcc[best] {
			best = i
		}
	}
	mean := 0.0
	for _, a := range testAcc {
		mean += a / float64(len(testAcc))
	}
	uniform := accuracy(t, mergeModel(t, dir, "uniform.yaml"), test)
	greedy := accuracy(t, mergeModel(t, dir, "greedy.yaml"), test)
	if greedy < testAcc[best] {
		t.Errorf("greedy soup %.4f < best single model %.4f (picked on validation)", greedy, testAcc[best])
	}
	if uniform < mean {
		t.Errorf("uniform soup %.4f < mean fine-tune %.4f", uniform, mean)
	}
	closeAcc(t, "uniform soup", lab.Numbers["uniform_soup_test_accuracy"], uniform, test.Len())
	closeAcc(t, "greedy soup", lab.Numbers["greedy_soup_test_accuracy"], greedy, test.Len())
	// The greedy recipe evaluates on a validation split distinct from the test split.
	text, err := os.ReadFile(filepath.Join(dir, "greedy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := recipe.Parse(text, "greedy.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.MergeMethod != "greedy_soup" || r.Ladle.Eval == nil || r.Ladle.Eval.Data != "data.safetensors" || r.Ladle.Eval.Split != "val" {
		t.Errorf("greedy.yaml: method %q, eval %+v", r.MergeMethod, r.Ladle.Eval)
	}
	// Validation and test hold different images.
	if overlap(test, val) {
		t.Error("the validation and test splits share samples")
	}
}

// overlap reports whether two datasets share a sample (image and label).
func overlap(a, b *eval.Dataset) bool {
	seen := map[string]bool{}
	f := a.Features()
	for i := range a.Len() {
		seen[string(a.U8[i*f:(i+1)*f])+string(rune(a.Labels[i]))] = true
	}
	for i := range b.Len() {
		if seen[string(b.U8[i*f:(i+1)*f])+string(rune(b.Labels[i]))] {
			return true
		}
	}
	return false
}

// taskHeadAccuracy is the accuracy with the prediction restricted to classes.
func taskHeadAccuracy(t *testing.T, m *nn.Model, d *eval.Dataset, classes []int) float64 {
	t.Helper()
	x := d.Batch(nil, 0, d.Len())
	out, err := m.Forward(x, d.Len())
	if err != nil {
		t.Fatal(err)
	}
	k := m.OutputSize()
	correct := 0
	for i, y := range d.Labels {
		best := classes[0]
		for _, c := range classes {
			if out[i*k+c] > out[i*k+best] {
				best = c
			}
		}
		if best == y {
			correct++
		}
	}
	return float64(correct) / float64(d.Len())
}

func TestTaskArithmeticClaims(t *testing.T) {
	dir, lab := labByName(t, "task-arithmetic")
	low, high := loadSplit(t, dir, "low"), loadSplit(t, dir, "high")
	for _, y := range low.Labels {
		if y > 4 {
			t.Fatalf("split low holds the digit %d", y)
		}
	}
	for _, y := range high.Labels {
		if y < 5 {
			t.Fatalf("split high holds the digit %d", y)
		}
	}
	base := loadModel(t, dir, "base.safetensors")
	add := mergeModel(t, dir, "add.yaml")
	neg := mergeModel(t, dir, "negate.yaml")
	lowC, highC := []int{0, 1, 2, 3, 4}, []int{5, 6, 7, 8, 9}
	bl, bh := taskHeadAccuracy(t, base, low, lowC), taskHeadAccuracy(t, base, high, highC)
	nl, nh := taskHeadAccuracy(t, neg, low, lowC), taskHeadAccuracy(t, neg, high, highC)
	al, ah := taskHeadAccuracy(t, add, low, lowC), taskHeadAccuracy(t, add, high, highC)
	if drop := 100 * (bl - nl); drop < 20 {
		t.Errorf("negation lowers the target task by %.1f points (%.3f → %.3f), want ≥ 20", drop, bl, nl)
	}
	if drop := 100 * (bh - nh); drop > 5 {
		t.Errorf("negation lowers the control task by %.1f points (%.3f → %.3f), want ≤ 5", drop, bh, nh)
	}
	if al <= bl || ah <= bh {
		t.Errorf("addition: %.3f/%.3f, base %.3f/%.3f", al, ah, bl, bh)
	}
	closeAcc(t, "negated, task low", lab.Numbers["negate_low_accuracy"], nl, low.Len())
	closeAcc(t, "negated, task high", lab.Numbers["negate_high_accuracy"], nh, high.Len())
	// negate.yaml is task arithmetic with weight −1 and a lambda.
	text, _ := os.ReadFile(filepath.Join(dir, "negate.yaml"))
	r, err := recipe.Parse(text, "negate.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := r.Param("weight", 0, "", 0); r.MergeMethod != "task_arithmetic" || !ok || w != -1.0 {
		t.Errorf("negate.yaml: method %q, weight %v", r.MergeMethod, w)
	}
	if _, ok := r.Param("lambda", -1, "", 0); !ok {
		t.Error("negate.yaml sets no lambda")
	}
}

func TestRWSClaims(t *testing.T) {
	dir, lab := labByName(t, "robust-signatures")
	clean := loadModel(t, dir, "clean.safetensors")
	for _, c := range []struct{ split, recipe string }{{"blur", "patch.yaml"}, {"contrast", "patch-contrast.yaml"}} {
		d := loadSplit(t, dir, c.split)
		before := accuracy(t, clean, d)
		after := accuracy(t, mergeModel(t, dir, c.recipe), d)
		if gain := 100 * (after - before); gain < 5 {
			t.Errorf("%s: patching raises the accuracy on %s by %.1f points (%.3f → %.3f), want ≥ 5", c.recipe, c.split, gain, before, after)
		}
	}
	full, err := os.Stat(filepath.Join(dir, "clean.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{"blur.sig.safetensors", "contrast.sig.safetensors"} {
		fi, err := os.Stat(filepath.Join(dir, sig))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size()*10 > full.Size() {
			t.Errorf("%s is %d bytes, the checkpoint %d: less than 10x smaller", sig, fi.Size(), full.Size())
		}
		src, err := ckpt.Open(filepath.Join(dir, sig))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(src.Metadata()["ladle.rws"], `"levels":16`) {
			t.Errorf("%s is not quantised to 16 levels: %q", sig, src.Metadata()["ladle.rws"])
		}
		for _, info := range src.Tensors() {
			if !strings.HasPrefix(info.Name, "conv1.") && !strings.HasPrefix(info.Name, "conv2.") {
				t.Errorf("%s holds %s, outside the shallow layers", sig, info.Name)
			}
		}
		src.Close()
	}
	// remove.yaml undoes one signature of compose.yaml's output.
	a, b := mergeModel(t, dir, "patch.yaml"), mergeModel(t, dir, "remove.yaml")
	for _, p := range a.Params() {
		q := b.Param(p.Name)
		for i, v := range p.Data {
			if math.Abs(float64(v-q.Data[i])) > 1e-5 {
				t.Fatalf("%s[%d]: patched %v, removed %v", p.Name, i, v, q.Data[i])
			}
		}
	}
	if lab.Numbers["smallest_size_ratio"] < 10 {
		t.Errorf("size ratio %v", lab.Numbers["smallest_size_ratio"])
	}
}

func TestRebasinClaims(t *testing.T) {
	dir, lab := labByName(t, "rebasin")
	test := loadSplit(t, dir, "")
	a, b := loadModel(t, dir, "model-a.safetensors"), loadModel(t, dir, "model-b.safetensors")
	arch := a.Arch()
	naive, err := eval.Interpolate(arch, a.Tensors(), b.Tensors(), test, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bAligned, _, err := eval.Align(arch, a.Tensors(), b.Tensors(), 0)
	if err != nil {
		t.Fatal(err)
	}
	aligned, err := eval.Interpolate(arch, a.Tensors(), bAligned, test, eval.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if aligned.Barrier > naive.Barrier/2 {
		t.Errorf("alignment takes the barrier from %.4f to %.4f: not halved", naive.Barrier, aligned.Barrier)
	}
	if math.Abs(naive.Barrier-lab.Numbers["naive_barrier"]) > 0.01 || math.Abs(aligned.Barrier-lab.Numbers["aligned_barrier"]) > 0.01 {
		t.Errorf("barriers %.4f and %.4f measured, lab.json says %v and %v", naive.Barrier, aligned.Barrier, lab.Numbers["naive_barrier"], lab.Numbers["aligned_barrier"])
	}
	if len(lab.Curve) != len(naive.Points) {
		t.Fatalf("lab.json curve has %d points, want %d", len(lab.Curve), len(naive.Points))
	}
	for i, p := range lab.Curve {
		if p.AlignedLoss == nil || p.AlignedAccuracy == nil || math.Abs(p.Alpha-naive.Points[i].Alpha) > 1e-9 {
			t.Fatalf("curve point %d: %+v", i, p)
		}
		if math.Abs(p.Loss-naive.Points[i].Loss) > 1e-3 || math.Abs(*p.AlignedLoss-aligned.Points[i].Loss) > 1e-3 {
			t.Errorf("curve point %d: losses %v/%v, package nn %v/%v", i, p.Loss, *p.AlignedLoss, naive.Points[i].Loss, aligned.Points[i].Loss)
		}
	}
	// aligned.yaml (ladle: {align: true}) merges what the curve's midpoint shows.
	text, err := os.ReadFile(filepath.Join(dir, "aligned.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := recipe.Parse(text, "aligned.yaml", dir); err != nil || !r.Ladle.Align {
		t.Errorf("aligned.yaml does not ask for alignment (%v)", err)
	}
	mid := len(aligned.Points) / 2
	closeAcc(t, "aligned.yaml", aligned.Points[mid].Accuracy, accuracy(t, mergeModel(t, dir, "aligned.yaml"), test), test.Len())
	closeAcc(t, "naive.yaml", naive.Points[mid].Accuracy, accuracy(t, mergeModel(t, dir, "naive.yaml"), test), test.Len())
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// lab.json is well-formed and consistent with the files of its folder.
func TestLabJSON(t *testing.T) {
	dir, all := buildLabs(t)
	for _, b := range all {
		checkLabFolder(t, filepath.Join(dir, b.Name))
	}
	checkIndex(t, dir)
}

func checkIndex(t *testing.T, dir string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx []IndexEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if !slices.Equal(idx, All()) {
		t.Errorf("index.json %v, want %v", idx, All())
	}
	for _, e := range idx {
		if !plainName.MatchString(e.Name) || e.Title == "" || e.Summary == "" {
			t.Errorf("index entry %+v", e)
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name, "lab.json")); err != nil {
			t.Errorf("index.json lists %s: %v", e.Name, err)
		}
	}
}

func checkLabFolder(t *testing.T, labDir string) {
	t.Helper()
	name := filepath.Base(labDir)
	raw, err := os.ReadFile(filepath.Join(labDir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lab Lab
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lab); err != nil {
		t.Fatalf("%s/lab.json: %v", name, err)
	}
	// The keys the playground reads are all there.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"title", "summary", "paper", "try", "expect", "files", "data", "recipes", "results", "numbers"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("%s/lab.json has no %q", name, k)
		}
	}
	if lab.Title == "" || lab.Summary == "" || !strings.Contains(lab.Paper, "https://") || len(lab.Try) == 0 || len(lab.Expect) == 0 {
		t.Errorf("%s/lab.json: empty title, summary, paper, try or expect", name)
	}
	entries, err := os.ReadDir(labDir)
	if err != nil {
		t.Fatal(err)
	}
	var checkpoints []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			t.Errorf("%s/%s is not a plain file", name, e.Name())
		}
		if strings.HasSuffix(e.Name(), ".safetensors") {
			checkpoints = append(checkpoints, e.Name())
		}
	}
	files := append([]string(nil), lab.Files...)
	sort.Strings(files)
	if !slices.Equal(files, checkpoints) {
		t.Errorf("%s: lab.json files %v, folder's safetensors %v", name, files, checkpoints)
	}
	if !slices.Contains(lab.Files, lab.Data) {
		t.Errorf("%s: data %q is not among the files", name, lab.Data)
	}
	for _, f := range append(append([]string(nil), lab.Files...), lab.Data) {
		if !plainName.MatchString(f) {
			t.Errorf("%s: %q is not a plain file name", name, f)
		}
	}
	if len(lab.Recipes) == 0 {
		t.Errorf("%s: no recipes", name)
	}
	for _, r := range lab.Recipes {
		text, err := os.ReadFile(filepath.Join(labDir, r.File))
		if err != nil || r.Name == "" || !plainName.MatchString(r.File) {
			t.Errorf("%s: recipe %+v: %v", name, r, err)
			continue
		}
		rec, err := recipe.Parse(text, r.File, labDir)
		if err != nil {
			t.Errorf("%s/%s: %v", name, r.File, err)
			continue
		}
		for _, p := range rec.ModelPaths() {
			if !slices.Contains(lab.Files, p) {
				t.Errorf("%s/%s names %s, which lab.json does not list", name, r.File, p)
			}
		}
		if e := rec.Ladle.Eval; e != nil && !slices.Contains(lab.Files, e.Data) {
			t.Errorf("%s/%s evaluates on %s, which lab.json does not list", name, r.File, e.Data)
		}
	}
	// Every checkpoint but the data carries its architecture (signatures carry the
	// ladle.rws record instead); the data file holds the splits lab.json describes.
	for _, f := range lab.Files {
		src, err := ckpt.Open(filepath.Join(labDir, f))
		if err != nil {
			t.Fatal(err)
		}
		md := src.Metadata()
		switch {
		case f == lab.Data:
			splits := eval.Splits(src)
			if len(splits) != len(lab.Splits) {
				t.Errorf("%s: data splits %q, lab.json describes %d", name, splits, len(lab.Splits))
			}
			for _, s := range lab.Splits {
				d, err := eval.FromSource(src, s.Split)
				if err != nil {
					t.Errorf("%s: split %q: %v", name, s.Split, err)
					continue
				}
				if d.Len() != s.Samples || d.U8 == nil {
					t.Errorf("%s: split %q holds %d samples (U8: %v), lab.json says %d", name, s.Split, d.Len(), d.U8 != nil, s.Samples)
				}
			}
		case md["ladle.rws"] != "":
		default:
			if _, err := nn.ArchOf(src); err != nil {
				t.Errorf("%s/%s: %v", name, f, err)
			}
		}
		src.Close()
	}
	scores := append(append([]Score(nil), lab.Results.Ingredients...), lab.Results.Soups...)
	if len(lab.Results.Ingredients) == 0 || len(lab.Results.Soups) == 0 {
		t.Errorf("%s: empty results", name)
	}
	for _, s := range scores {
		if s.Name == "" || math.IsNaN(s.Accuracy) || s.Accuracy < 0 || s.Accuracy > 1 {
			t.Errorf("%s: result %+v", name, s)
		}
	}
	for k, v := range lab.Numbers {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s: number %s = %v", name, k, v)
		}
	}
	for _, p := range lab.Curve {
		if p.Alpha < 0 || p.Alpha > 1 || math.IsNaN(p.Loss) || p.Accuracy < 0 || p.Accuracy > 1 {
			t.Errorf("%s: curve point %+v", name, p)
		}
	}
}

// Building twice gives the same bytes.
func TestBuildDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every lab a second time")
	}
	dir, _ := buildLabs(t)
	again := filepath.Join(tmpRoot, "b")
	if _, err := Build(again, Options{}); err != nil {
		t.Fatal(err)
	}
	compareTrees(t, dir, again)
}

// The committed public/labs is what this code builds (and so every claim holds on
// the committed files too).
func TestCommittedLabsUpToDate(t *testing.T) {
	committed := filepath.Join("..", "..", "public", "labs")
	if _, err := os.Stat(filepath.Join(committed, "index.json")); err != nil {
		t.Skipf("no committed labs: %v", err)
	}
	dir, _ := buildLabs(t)
	compareTrees(t, dir, committed)
	checkIndex(t, committed)
	for _, e := range All() {
		checkLabFolder(t, filepath.Join(committed, e.Name))
	}
}

// compareTrees requires the same files with the same bytes, except README.md at the
// top (documentation, not built).
func compareTrees(t *testing.T, a, b string) {
	t.Helper()
	list := func(root string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel == "README.md" {
				return nil
			}
			data, err := os.ReadFile(p)
			out[filepath.ToSlash(rel)] = data
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	fa, fb := list(a), list(b)
	for name, data := range fa {
		other, ok := fb[name]
		switch {
		case !ok:
			t.Errorf("%s is in %s but not in %s", name, a, b)
		case !bytes.Equal(data, other):
			t.Errorf("%s differs between %s and %s (run go run ./cmd/ladle labs build)", name, a, b)
		}
	}
	for name := range fb {
		if _, ok := fa[name]; !ok {
			t.Errorf("%s is in %s but not in %s", name, b, a)
		}
	}
}

// All labs together stay under 20 MB.
func TestSize(t *testing.T) {
	dir, all := buildLabs(t)
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		total += fi.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if total >= 20<<20 {
		t.Errorf("the labs take %d bytes, want < 20 MB", total)
	}
	var sum int64
	for _, b := range all {
		sum += b.Bytes
	}
	if sum > total {
		t.Errorf("Build reports %d bytes, the folder holds %d", sum, total)
	}
	t.Logf("labs: %.2f MB", float64(total)/1e6)
}

// Build refuses unknown labs, and a partial build replaces only its lab.
func TestBuildOnly(t *testing.T) {
	dir := t.TempDir()
	if _, err := Build(dir, Options{Only: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "task-arithmetic") {
		t.Errorf("unknown lab: %v", err)
	}
	stale := filepath.Join(dir, "task-arithmetic", "stale.safetensors")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Build(dir, Options{Only: []string{"task-arithmetic"}})
	if err != nil || len(out) != 1 {
		t.Fatalf("Build: %v, %d labs", err, len(out))
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a stale file survived the rebuild: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"index.json", "task-arithmetic"}) {
		t.Errorf("the folder holds %v", names)
	}
	checkLabFolder(t, filepath.Join(dir, "task-arithmetic"))
	ref, _ := labByName(t, "task-arithmetic")
	compareTrees(t, filepath.Join(dir, "task-arithmetic"), ref)
}

// The Labs section of the repository's README quotes the numbers the labs reach.
func TestReadmeNumbers(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Skip(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Labs\n")
	if !ok {
		t.Fatal("README.md has no Labs section")
	}
	want := map[string][]string{}
	_, all := buildLabs(t)
	for _, b := range all {
		n := b.Lab.Numbers
		switch b.Name {
		case "soups":
			want[b.Name] = []string{pct(n["mean_finetune_test_accuracy"]), pct(n["best_single_test_accuracy"]),
				pct(n["uniform_soup_test_accuracy"]), pct(n["greedy_soup_test_accuracy"])}
		case "task-arithmetic":
			want[b.Name] = []string{pct(n["base_low_accuracy"]), pct(n["base_high_accuracy"]), pct(n["add_low_accuracy"]),
				pct(n["add_high_accuracy"]), pct(n["negate_low_accuracy"]), pct(n["negate_high_accuracy"])}
		case "robust-signatures":
			want[b.Name] = []string{pct(n["clean_on_blur"]), pct(n["clean_on_contrast"]), pct(n["patched_blur_on_blur"]),
				pct(n["patched_contrast_on_contrast"])}
		case "multitask":
			want[b.Name] = []string{pct(n["base_average"]), pct(n["ceiling_average"]), pct(n["task_arithmetic_average"]),
				pct(n["ties_average"]), pct(n["pcb_average"]), pct(n["tsv_m_average"]), pct(n["iso_c_average"])}
		case "rebasin":
			want[b.Name] = []string{pct(n["naive_average_accuracy"]), pct(n["aligned_average_accuracy"]),
				strconv.FormatFloat(n["naive_barrier"], 'f', 3, 64), strconv.FormatFloat(n["aligned_barrier"], 'f', 3, 64)}
		}
	}
	for name, ws := range want {
		line := ""
		for _, l := range strings.Split(section, "\n") {
			if strings.HasPrefix(l, "| `"+name+"`") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("README.md: no row for the lab %s", name)
			continue
		}
		for _, w := range ws {
			if !strings.Contains(line, w) {
				t.Errorf("README.md: the row of %s does not say %s (rebuild the labs and update the table)", name, w)
			}
		}
	}
}
