package nn

import (
	"strings"
	"testing"
)

// FuzzParseArch: no spec makes ParseArch, NewModel or a forward pass panic. Specs
// with their tensors present are built from the shapes the error messages ask for.
func FuzzParseArch(f *testing.F) {
	for _, c := range opCases {
		f.Add(c.arch)
	}
	f.Add(`{"input_shape": [1, 28, 28], "input_scale": 0.0039, "normalize": {"mean": [0.1307], "std": [0.3081]},
		"layers": [{"op": "conv2d", "name": "c", "stride": 2, "padding": 1}, {"op": "relu"}, {"op": "flatten"}]}`)
	f.Add(`{"input_shape": [2, 3], "layers": [{"op": "softmax"}, {"op": "maxpool2d", "kernel": [1, 2]}]}`)
	f.Fuzz(func(t *testing.T, spec string) {
		a, err := ParseArch([]byte(spec))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "arch:") {
				t.Fatalf("error without the arch: prefix: %v", err)
			}
			return
		}
		m, err := NewModel(a, nil)
		if err != nil {
			return // a layer with parameters: reported, not built
		}
		if m.maxAct > 1<<16 {
			return // valid but too big to run in a fuzzer
		}
		x := make([]float32, 2*m.InputSize())
		if _, err := m.Forward(x, 2); err != nil {
			t.Fatal(err)
		}
		p, err := m.Record(x, 2, Train)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Backward(make([]float32, len(p.Output())), m.NewGrads()); err != nil {
			t.Fatal(err)
		}
	})
}
