package eval

import (
	"compress/gzip"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"ladle/core/nn"
)

// Small networks on the UCI handwritten digits (core/labs/data), for the alignment,
// greedy soup and Fisher tests.

const digitsPath = "../labs/data/digits.csv.gz"

var (
	digitsOnce sync.Once
	digitsSet  *Dataset
	digitsErr  error
)

// digits returns the 1,797 digits (8×8, values 0..16), or skips when the file is absent.
func digits(tb testing.TB) *Dataset {
	tb.Helper()
	digitsOnce.Do(func() {
		f, err := os.Open(digitsPath)
		if err != nil {
			digitsErr = err
			return
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			digitsErr = err
			return
		}
		digitsSet, digitsErr = ImportCSV(z, -1)
	})
	if os.IsNotExist(digitsErr) {
		tb.Skipf("digits data not found: %v", digitsErr)
	}
	if digitsErr != nil {
		tb.Fatal(digitsErr)
	}
	return digitsSet
}

// subset is samples [lo, hi) of d.
func subset(tb testing.TB, d *Dataset, lo, hi int) *Dataset {
	tb.Helper()
	f := d.Features()
	s, err := NewDataset(d.Shape, d.F32[lo*f:hi*f], d.Labels[lo:hi])
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func parseArch(tb testing.TB, spec string) *nn.Arch {
	tb.Helper()
	a, err := nn.ParseArch([]byte(spec))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// mlpArch: 64 → hidden → hidden2 → 10 with relu, on the digits.
func mlpArch(tb testing.TB) *nn.Arch {
	return parseArch(tb, `{"input_shape": [64], "input_scale": 0.0625, "layers": [
		{"op": "linear", "name": "fc1"}, {"op": "relu"},
		{"op": "linear", "name": "fc2"}, {"op": "relu"},
		{"op": "linear", "name": "fc3"}]}`)
}

// cnnArch: two conv layers with batchnorm and a pool, then flatten and two linear
// layers, on the digits as 1×8×8 images.
func cnnArch(tb testing.TB) *nn.Arch {
	return parseArch(tb, `{"input_shape": [1, 8, 8], "input_scale": 0.0625, "normalize": {"mean": [0.3], "std": [0.4]}, "layers": [
		{"op": "conv2d", "name": "c1", "padding": 1}, {"op": "relu"}, {"op": "batchnorm", "name": "bn1"},
		{"op": "maxpool2d", "kernel": 2},
		{"op": "conv2d", "name": "c2", "padding": 1}, {"op": "relu"}, {"op": "batchnorm", "name": "bn2"},
		{"op": "flatten"}, {"op": "linear", "name": "fc1"}, {"op": "relu"}, {"op": "dropout"},
		{"op": "linear", "name": "fc2"}, {"op": "log_softmax"}]}`)
}

func heInit(rng *rand.Rand, shape ...int) nn.Tensor {
	n, fanIn := 1, 1
	for i, d := range shape {
		n *= d
		if i > 0 {
			fanIn *= d
		}
	}
	t := nn.Tensor{Shape: shape, Data: make([]float32, n)}
	s := math.Sqrt(2 / float64(fanIn))
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64() * s)
	}
	return t
}

func smallVec(rng *rand.Rand, n int, mean, scale float64) nn.Tensor {
	t := nn.Tensor{Shape: []int{n}, Data: make([]float32, n)}
	for i := range t.Data {
		t.Data[i] = float32(mean + scale*rng.NormFloat64())
	}
	return t
}

func mlpInit(seed uint64, h1, h2 int) map[string]nn.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	return map[string]nn.Tensor{
		"fc1.weight": heInit(rng, h1, 64), "fc1.bias": smallVec(rng, h1, 0, 0.1),
		"fc2.weight": heInit(rng, h2, h1), "fc2.bias": smallVec(rng, h2, 0, 0.1),
		"fc3.weight": heInit(rng, 10, h2), "fc3.bias": smallVec(rng, 10, 0, 0.1),
	}
}

func cnnInit(seed uint64) map[string]nn.Tensor {
	rng := rand.New(rand.NewPCG(seed, 2))
	pos := func(n int) nn.Tensor {
		t := smallVec(rng, n, 1, 0.3)
		for i, v := range t.Data {
			t.Data[i] = float32(math.Abs(float64(v))) + 0.1
		}
		return t
	}
	return map[string]nn.Tensor{
		"c1.weight": heInit(rng, 6, 1, 3, 3), "c1.bias": smallVec(rng, 6, 0, 0.1),
		"bn1.weight": smallVec(rng, 6, 1, 0.2), "bn1.bias": smallVec(rng, 6, 0, 0.2),
		"bn1.running_mean": smallVec(rng, 6, 0.5, 0.2), "bn1.running_var": pos(6),
		"bn1.num_batches_tracked": {Shape: []int{}, Data: []float32{7}},
		"c2.weight":               heInit(rng, 12, 6, 3, 3), "c2.bias": smallVec(rng, 12, 0, 0.1),
		"bn2.weight": smallVec(rng, 12, 1, 0.2), "bn2.bias": smallVec(rng, 12, 0, 0.2),
		"bn2.running_mean": smallVec(rng, 12, 0.5, 0.2), "bn2.running_var": pos(12),
		"fc1.weight": heInit(rng, 24, 12*16), "fc1.bias": smallVec(rng, 24, 0, 0.1),
		"fc2.weight": heInit(rng, 10, 24), "fc2.bias": smallVec(rng, 10, 0, 0.1),
	}
}

// train runs plain minibatch SGD on the tensors in place (batchnorm in training
// mode), visiting the samples in an order drawn from seed.
func train(tb testing.TB, arch *nn.Arch, ts map[string]nn.Tensor, d *Dataset, epochs int, lr float64, seed uint64) {
	tb.Helper()
	m, err := nn.NewModel(arch, ts)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	const batch = 32
	g := m.NewGrads()
	classes := m.OutputSize()
	for range epochs {
		order := rng.Perm(d.Len())
		for lo := 0; lo+batch <= len(order); lo += batch {
			x := make([]float32, 0, batch*d.Features())
			y := make([]int, batch)
			for k, i := range order[lo : lo+batch] {
				x = append(x, d.F32[i*d.Features():(i+1)*d.Features()]...)
				y[k] = d.Labels[i]
			}
			p, err := m.Record(x, batch, nn.Train)
			if err != nil {
				tb.Fatal(err)
			}
			dout := make([]float32, batch*classes)
			if _, err := nn.CrossEntropy(p.Output(), y, m.OutputKind(), dout); err != nil {
				tb.Fatal(err)
			}
			g.Zero()
			if _, err := p.Backward(dout, g); err != nil {
				tb.Fatal(err)
			}
			for i, prm := range m.Params() {
				if gr := g.At(i); gr != nil {
					for j := range prm.Data {
						prm.Data[j] -= float32(lr) * gr[j]
					}
				}
			}
		}
	}
}

func cloneTensors(ts map[string]nn.Tensor) map[string]nn.Tensor {
	out := make(map[string]nn.Tensor, len(ts))
	for k, t := range ts {
		out[k] = nn.Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
	}
	return out
}

func forward(tb testing.TB, arch *nn.Arch, ts map[string]nn.Tensor, d *Dataset) []float32 {
	tb.Helper()
	m, err := nn.NewModel(arch, ts)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := m.Forward(d.Batch(nil, 0, d.Len()), d.Len())
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func accuracy(tb testing.TB, arch *nn.Arch, ts map[string]nn.Tensor, d *Dataset) float64 {
	tb.Helper()
	a, err := AccuracyScorer(arch, d, 0, 0)(ts)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
