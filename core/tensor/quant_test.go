package tensor

import (
	"math"
	"testing"
)

func TestQuantizeLinear(t *testing.T) {
	x := []float32{-1, 0, 0.5, 1, 0.26}
	codes := make([]uint8, len(x))
	deq := make([]float32, len(x))
	lo, hi, err := QuantizeLinear(x, 5, codes, deq)
	if err != nil || lo != -1 || hi != 1 {
		t.Fatalf("range %v %v %v", lo, hi, err)
	}
	// (x+1)/2·4: 0, 2, 3, 4, 2.52→3 ; x' = c/4·2 − 1.
	wantC := []uint8{0, 2, 3, 4, 3}
	wantX := []float32{-1, 0, 0.5, 1, 0.5}
	for i := range x {
		if codes[i] != wantC[i] || deq[i] != wantX[i] {
			t.Errorf("element %d: code %d x' %v, want %d %v", i, codes[i], deq[i], wantC[i], wantX[i])
		}
	}
	back := make([]float32, len(x))
	if err := DequantizeLinear(codes, 5, lo, hi, back); err != nil {
		t.Fatal(err)
	}
	for i := range back {
		if back[i] != deq[i] {
			t.Errorf("dequantize %d: %v != %v", i, back[i], deq[i])
		}
	}
	// Half-to-even: (x+1)/2·2 = 0.5 and 1.5 with 3 levels → 0 and 2.
	if c := QuantCode(-0.5, -1, 1, 3); c != 0 {
		t.Errorf("round half to even: code %d", c)
	}
	if c := QuantCode(0.5, -1, 1, 3); c != 2 {
		t.Errorf("round half to even: code %d", c)
	}
}

func TestQuantizeConstantAndErrors(t *testing.T) {
	x := []float32{2.5, 2.5, 2.5}
	codes := make([]uint8, 3)
	lo, hi, err := QuantizeLinear(x, 16, codes, x)
	if err != nil || lo != 2.5 || hi != 2.5 || codes[0] != 0 || x[1] != 2.5 {
		t.Errorf("constant: %v %v %v %v %v", lo, hi, err, codes, x)
	}
	if _, _, err := QuantizeLinear(x, 1, nil, nil); err == nil {
		t.Error("1 level accepted")
	}
	if _, _, err := QuantizeLinear(x, 300, codes, nil); err == nil {
		t.Error("U8 codes with 300 levels accepted")
	}
	if _, _, err := QuantizeLinear([]float32{1, float32(math.Inf(1))}, 4, nil, nil); err == nil {
		t.Error("Inf accepted")
	}
	if err := DequantizeLinear([]uint8{9}, 4, 0, 1, make([]float32, 1)); err == nil {
		t.Error("code above levels accepted")
	}
	// Extremes come back exactly even with an awkward range.
	y := []float32{-3.1415927, 1e-3, 123.456}
	d := make([]float32, 3)
	if _, _, err := QuantizeLinear(y, 256, nil, d); err != nil || d[0] != y[0] || d[2] != y[2] {
		t.Errorf("extremes %v %v", d, err)
	}
}
