package merge

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func method(t testing.TB, name string) *Method {
	t.Helper()
	m, ok := Lookup(name)
	if !ok {
		t.Fatalf("method %q not registered", name)
	}
	return m
}

// mergeOK runs the named method and fails the test on error.
func mergeOK(t testing.TB, name string, j *Job) []float32 {
	t.Helper()
	out := make([]float32, outLen(j))
	if err := method(t, name).Merge(j, out); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// mergeErr runs the named method, expects an *Error naming the tensor and containing
// every fragment, and returns it.
func mergeErr(t testing.TB, name string, j *Job, fragments ...string) error {
	t.Helper()
	out := make([]float32, outLen(j))
	err := method(t, name).Merge(j, out)
	if err == nil {
		t.Fatalf("%s: expected an error containing %q", name, fragments)
	}
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("%s: error %v is not an *Error", name, err)
	}
	if j != nil && j.Tensor != "" && !strings.Contains(err.Error(), j.Tensor) {
		t.Errorf("%s: error %q does not name the tensor %q", name, err, j.Tensor)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not contain %q", name, err, f)
		}
	}
	return err
}

func outLen(j *Job) int {
	switch {
	case j == nil:
		return 0
	case j.Base != nil:
		return len(j.Base)
	case len(j.Models) > 0:
		return len(j.Models[0])
	}
	return 0
}

func randT(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// tiedT has many equal magnitudes, to exercise tie-breaking at thresholds.
func tiedT(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.IntN(9)-4) * 0.25
	}
	return x
}

// near returns a base plus small deltas, so task vectors are meaningful.
func near(r *rand.Rand, base []float32, scale float64) []float32 {
	x := make([]float32, len(base))
	for i := range x {
		x[i] = base[i] + float32(scale*r.NormFloat64())
	}
	return x
}

func same(a, b float32) bool {
	return a == b || (a != a && b != b)
}

func assertEqual(t testing.TB, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !same(got[i], want[i]) {
			t.Fatalf("%s: element %d = %v (%#x), want %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// assertClose allows a relative error rel of the larger magnitude plus abs.
func assertClose(t testing.TB, what string, got, want []float32, rel, abs float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.Abs(g-w) > abs+rel*math.Max(math.Abs(g), math.Abs(w)) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func f32(v ...float64) []float32 {
	x := make([]float32, len(v))
	for i := range v {
		x[i] = float32(v[i])
	}
	return x
}

func mp(kv ...any) Params {
	p := Params{}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i].(string)] = kv[i+1]
	}
	return p
}
