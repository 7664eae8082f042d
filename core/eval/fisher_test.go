package eval

import (
	"math"
	"math/rand/v2"
	"testing"

	"ladle/core/nn"
)

// tinyNLL is −log softmax(W2·tanh(W1·0.5x + b1) + b2)[y], in float64, straight from
// the definition.
func tinyNLL(p map[string][]float64, x []float32, y int) float64 {
	h := make([]float64, 5)
	for o := range 5 {
		s := p["l1.bias"][o]
		for i := range 4 {
			s += p["l1.weight"][o*4+i] * 0.5 * float64(x[i])
		}
		h[o] = math.Tanh(s)
	}
	z := make([]float64, 3)
	mx := math.Inf(-1)
	for o := range 3 {
		s := p["l2.bias"][o]
		for i := range 5 {
			s += p["l2.weight"][o*5+i] * h[i]
		}
		z[o] = s
		mx = math.Max(mx, s)
	}
	lse := 0.0
	for _, v := range z {
		lse += math.Exp(v - mx)
	}
	return mx + math.Log(lse) - z[y]
}

// Fisher against central differences of the log-likelihood, for every way a model
// can end (logits, softmax, log_softmax).
func TestFisherMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	ts := map[string]nn.Tensor{
		"l1.weight": smallVec(rng, 20, 0, 0.8), "l1.bias": smallVec(rng, 5, 0, 0.3),
		"l2.weight": smallVec(rng, 15, 0, 0.8), "l2.bias": smallVec(rng, 3, 0, 0.3),
	}
	ts["l1.weight"] = nn.Tensor{Shape: []int{5, 4}, Data: ts["l1.weight"].Data}
	ts["l2.weight"] = nn.Tensor{Shape: []int{3, 5}, Data: ts["l2.weight"].Data}
	const n = 12
	x := make([]float32, n*4)
	y := make([]int, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 2)
	}
	d, err := NewDataset([]int{4}, x, y)
	if err != nil {
		t.Fatal(err)
	}
	for _, final := range []string{"", "softmax", "log_softmax"} {
		spec := `{"input_shape": [4], "input_scale": 0.5, "layers": [{"op": "linear", "name": "l1"}, {"op": "tanh"}, {"op": "linear", "name": "l2"}`
		if final != "" {
			spec += `, {"op": "` + final + `"}`
		}
		arch := parseArch(t, spec+"]}")
		m, err := nn.NewModel(arch, ts)
		if err != nil {
			t.Fatal(err)
		}
		for _, seed := range []uint64{1, 2} {
			f, err := Fisher(m, d, FisherOptions{Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			// The reference: mean over samples of the squared central difference.
			p64 := map[string][]float64{}
			for k, tt := range ts {
				for _, v := range tt.Data {
					p64[k] = append(p64[k], float64(v))
				}
			}
			want := map[string][]float64{}
			labels := map[int]int{}
			for s := range n {
				pass, err := m.Record(x[s*4:(s+1)*4], 1, nn.Eval)
				if err != nil {
					t.Fatal(err)
				}
				lab, err := SampleLabel(pass.Output(), m.OutputKind(), seed, s)
				if err != nil {
					t.Fatal(err)
				}
				labels[lab]++
				for k, v := range p64 {
					if want[k] == nil {
						want[k] = make([]float64, len(v))
					}
					for j := range v {
						const h = 1e-6
						orig := v[j]
						v[j] = orig + h
						up := tinyNLL(p64, x[s*4:(s+1)*4], lab)
						v[j] = orig - h
						down := tinyNLL(p64, x[s*4:(s+1)*4], lab)
						v[j] = orig
						g := (up - down) / (2 * h)
						want[k][j] += g * g / n
					}
				}
			}
			if len(labels) < 2 {
				t.Errorf("%q: every sampled label is the same: %v", final, labels)
			}
			for k, w := range want {
				got := f[k].Data
				for j := range w {
					if math.Abs(float64(got[j])-w[j]) > 1e-4*w[j]+1e-7 {
						t.Fatalf("%q seed %d: Fisher %s[%d] = %v, finite differences give %v", final, seed, k, j, got[j], w[j])
					}
				}
			}
		}
	}
}

// The result depends on the seed, not on the threads; a subset uses that many
// samples; batchnorm's running statistics get zeros.
func TestFisherDeterminism(t *testing.T) {
	d := subset(t, digits(t), 0, 200)
	arch := cnnArch(t)
	ts := cnnInit(5)
	m, err := nn.NewModel(arch, ts)
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]nn.Tensor
	for _, threads := range []int{1, 3, 8} {
		f, err := Fisher(m, d, FisherOptions{Seed: 4, Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = f
			continue
		}
		for k, tt := range f {
			for i, v := range tt.Data {
				if math.Float32bits(v) != math.Float32bits(ref[k].Data[i]) {
					t.Fatalf("threads %d: %s[%d] = %v, was %v", threads, k, i, v, ref[k].Data[i])
				}
			}
		}
	}
	for _, k := range []string{"bn1.running_mean", "bn2.running_var"} {
		for _, v := range ref[k].Data {
			if v != 0 {
				t.Fatalf("%s has Fisher %v", k, v)
			}
		}
	}
	positive := 0
	for _, v := range ref["c1.weight"].Data {
		if v > 0 {
			positive++
		}
	}
	if positive == 0 {
		t.Error("all of c1.weight's Fisher is zero")
	}
	if _, ok := ref["bn1.num_batches_tracked"]; ok {
		t.Error("a tensor the model does not read has a Fisher value")
	}
	other, err := Fisher(m, d, FisherOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if l2(ref, other) == 0 {
		t.Error("the seed changes nothing")
	}
	// Asking for more samples than there are uses them all; a subset is sorted.
	sub, err := Fisher(m, d, FisherOptions{Seed: 4, Samples: d.Len() + 5})
	if err != nil || l2(sub, ref) != 0 {
		t.Errorf("samples beyond the dataset: %v", err)
	}
	if idx := fisherSamples(200, 30, 1); len(idx) != 30 || idx[0] >= idx[29] {
		t.Errorf("subset %v", idx)
	}
	if _, err := Fisher(m, subset(t, digits(t), 0, 0+1), FisherOptions{Samples: 1}); err != nil {
		t.Error(err)
	}
}
