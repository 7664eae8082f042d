package merge

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// greedy_soup's per-tensor step is linear with equal weights, bit for bit.
func TestGreedySoupIsUniformLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(50, 50))
	models := [][]float32{randT(r, 3000), randT(r, 3000), randT(r, 3000)}
	models[0][5], models[1][5], models[2][5] = -0.0, -0.0, -0.0
	want := mergeOK(t, "linear", &Job{Tensor: "w", Models: models})
	got := mergeOK(t, "greedy_soup", &Job{Tensor: "w", Models: models, Params: Params{"strict": true}, Workers: 4})
	if !equalBits(got, want) {
		t.Error("greedy_soup's average differs from linear's")
	}
	mergeErr(t, "greedy_soup", &Job{Tensor: "w", Models: models, ModelParams: []Params{{"weight": 2}, {}, {}}}, "per-model")
	m := method(t, "greedy_soup")
	if !m.NeedsEval || m.NeedsBase {
		t.Errorf("greedy_soup: needs eval %v, base %v", m.NeedsEval, m.NeedsBase)
	}
	b, err := json.Marshal(m.Info())
	if err != nil || !strings.Contains(string(b), `"needs_eval":true`) || !strings.Contains(string(b), `"strict"`) {
		t.Errorf("info %s (%v)", b, err)
	}
	if b, _ := json.Marshal(method(t, "linear").Info()); strings.Contains(string(b), "needs_eval") {
		t.Errorf("linear info mentions needs_eval: %s", b)
	}
}
