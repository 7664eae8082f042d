package eval

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"ladle/core/ckpt/safetensors"
	"ladle/core/nn"
)

// EvaluateContext reports progress after each batch, gives Evaluate's result bit for
// bit, and stops when its context is cancelled.
func TestEvaluateContext(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m, err := nn.NewModel(toyArch(t, "log_softmax"), toyTensors(rng, 1))
	if err != nil {
		t.Fatal(err)
	}
	d := toyData(rng, 250)
	want, err := Evaluate(m, d, 100)
	if err != nil {
		t.Fatal(err)
	}
	var seen [][2]int
	got, err := EvaluateContext(context.Background(), m, d, 100, func(done, total int) { seen = append(seen, [2]int{done, total}) })
	if err != nil || got != want {
		t.Fatalf("EvaluateContext = %+v, %v; Evaluate = %+v", got, err, want)
	}
	if len(seen) != 3 || seen[0] != [2]int{100, 250} || seen[2] != [2]int{250, 250} {
		t.Errorf("progress %v", seen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = EvaluateContext(ctx, m, d, 100, func(done, total int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
}

// Split "test" is the default split x/y when the file has one, x.test/y.test when not.
func TestTestSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a, b := toyData(rng, 5), toyData(rng, 7)
	b.Split = "val"
	var buf bytes.Buffer
	if err := Encode(&buf, a, b); err != nil {
		t.Fatal(err)
	}
	src, err := safetensors.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "d.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	d, err := FromSource(src, TestSplit)
	if err != nil || d.Len() != 5 {
		t.Fatalf("split test: %v, %v", d, err)
	}
	a.Split = "test"
	buf.Reset()
	if err := Encode(&buf, a, b); err != nil {
		t.Fatal(err)
	}
	src, err = safetensors.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "d.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if d, err = FromSource(src, TestSplit); err != nil || d.Len() != 5 {
		t.Fatalf("split test of a file with x.test: %v, %v", d, err)
	}
}
