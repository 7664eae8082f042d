package eval

import (
	"errors"
	"math"
	"strings"
	"testing"

	"ladle/core/nn"
)

// scalarModels are one-number "models"; the score is −|x − 2| of the soup's value.
func scalarModels(xs ...float32) []map[string]nn.Tensor {
	out := make([]map[string]nn.Tensor, len(xs))
	for i, x := range xs {
		out[i] = map[string]nn.Tensor{"w": {Shape: []int{1}, Data: []float32{x}}}
	}
	return out
}

func closeToTwo(ts map[string]nn.Tensor) (float64, error) {
	return -math.Abs(float64(ts["w"].Data[0]) - 2), nil
}

func TestGreedySoupRule(t *testing.T) {
	names := []string{"a", "b", "c"}
	// a and b are equal: their average scores the same, which the paper's ≥ keeps and
	// strict > does not.
	r, err := GreedySoup(names, scalarModels(2, 2, 5), closeToTwo, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Ingredients, ",") != "a,b" || r.Accuracy != 0 {
		t.Errorf("≥: ingredients %v, accuracy %v", r.Ingredients, r.Accuracy)
	}
	want := []GreedyStep{{"a", 0, true}, {"b", 0, true}, {"c", -1, false}}
	if len(r.Steps) != 3 || r.Steps[0] != want[0] || r.Steps[1] != want[1] || r.Steps[2] != want[2] {
		t.Errorf("steps %+v, want %+v", r.Steps, want)
	}
	if r.Individual[0] != 0 || r.Individual[1] != 0 || r.Individual[2] != -3 {
		t.Errorf("individual %v", r.Individual)
	}
	r, err = GreedySoup(names, scalarModels(2, 2, 5), closeToTwo, true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Ingredients, ",") != "a" || r.Steps[1].Kept || r.Steps[2].Accuracy != -1.5 {
		t.Errorf("strict: %+v", r)
	}
	// Sorting: best first, ties in input order; a worse model can still help the soup.
	r, err = GreedySoup([]string{"low", "x", "y", "far"}, scalarModels(1, 3, 1, 9), closeToTwo, false)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range r.Steps {
		order = append(order, s.Model)
	}
	if strings.Join(order, ",") != "low,x,y,far" {
		t.Errorf("order %v (ties must keep the input order)", order)
	}
	// low (1) + x (3) = 2: score 0, kept; + y (1) = 5/3: −1/3 < 0, not kept; + far: no.
	if strings.Join(r.Ingredients, ",") != "low,x" || r.Accuracy != 0 || r.Soup["w"].Data[0] != 2 {
		t.Errorf("result %+v, soup %v", r, r.Soup["w"].Data)
	}
	if r.Chosen[0] != 0 || r.Chosen[1] != 1 {
		t.Errorf("chosen %v", r.Chosen)
	}
}

func TestGreedySoupErrors(t *testing.T) {
	if _, err := GreedySoup(nil, nil, closeToTwo, false); err == nil {
		t.Error("no models accepted")
	}
	if _, err := GreedySoup([]string{"a"}, scalarModels(1, 2), closeToTwo, false); err == nil {
		t.Error("names and models of different lengths accepted")
	}
	bad := func(map[string]nn.Tensor) (float64, error) { return 0, errors.New("boom") }
	if _, err := GreedySoup([]string{"a"}, scalarModels(1), bad, false); err == nil || !strings.Contains(err.Error(), "model a: boom") {
		t.Errorf("score error: %v", err)
	}
	nan := func(map[string]nn.Tensor) (float64, error) { return math.NaN(), nil }
	if _, err := GreedySoup([]string{"a"}, scalarModels(1), nan, false); err == nil {
		t.Error("NaN score accepted")
	}
	ms := scalarModels(1, 2)
	ms[1]["w"] = nn.Tensor{Shape: []int{2}, Data: []float32{1, 2}}
	if _, err := GreedySoup([]string{"a", "b"}, ms, closeToTwo, false); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("shape mismatch: %v", err)
	}
}

// Fine-tunes of one model on the digits, plus one that diverged: the soup never
// scores below the best model, leaves the broken one out, and its tensors are the
// average of its ingredients.
func TestGreedySoupOnDigits(t *testing.T) {
	all := digits(t)
	tr, val := subset(t, all, 0, 1000), subset(t, all, 1000, 1400)
	arch := cnnArch(t)
	start := cnnInit(11)
	train(t, arch, start, tr, 2, 0.05, 0)
	var models []map[string]nn.Tensor
	var names []string
	for i, lr := range []float64{0.02, 0.05, 0.03, 0.01} {
		m := cloneTensors(start)
		train(t, arch, m, tr, 2, lr, uint64(10+i))
		models = append(models, m)
		names = append(names, string(rune('a'+i)))
	}
	broken := cloneTensors(start)
	for i := range broken["fc1.weight"].Data {
		broken["fc1.weight"].Data[i] *= -3
	}
	models = append(models, broken)
	names = append(names, "broken")
	r, err := GreedySoup(names, models, AccuracyScorer(arch, val, 0, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Steps {
		t.Logf("%-6s candidate accuracy %.4f kept %v", s.Model, s.Accuracy, s.Kept)
	}
	t.Logf("individual %.4f; soup of %v: %.4f", r.Individual, r.Ingredients, r.Accuracy)
	best := 0.0
	for _, a := range r.Individual {
		best = math.Max(best, a)
	}
	if r.Accuracy < best {
		t.Errorf("soup %v below the best model's %v", r.Accuracy, best)
	}
	for _, n := range r.Ingredients {
		if n == "broken" {
			t.Error("the broken model joined the soup")
		}
	}
	if got := accuracy(t, arch, r.Soup, val); got != r.Accuracy {
		t.Errorf("soup re-scored %v, reported %v", got, r.Accuracy)
	}
	var chosen []map[string]nn.Tensor
	for _, i := range r.Chosen {
		chosen = append(chosen, models[i])
	}
	avg, err := Average(chosen...)
	if err != nil {
		t.Fatal(err)
	}
	for k, tt := range r.Soup {
		if strings.HasSuffix(k, "num_batches_tracked") {
			if tt.Data[0] != models[r.Chosen[0]][k].Data[0] {
				t.Errorf("%s not taken from the best model", k)
			}
			continue
		}
		for i, v := range tt.Data {
			if v != avg[k].Data[i] {
				t.Fatalf("%s[%d] = %v, the average is %v", k, i, v, avg[k].Data[i])
			}
		}
	}
}

// TestAccuracyScorerIsExact: the greedy soup's scores come from exact mode, whose
// outputs are the same bits natively and in the tab, so that a comparison of two
// accuracies, and with it the soup, cannot turn on a platform's last bits.
func TestAccuracyScorerIsExact(t *testing.T) {
	arch := cnnArch(t)
	m, err := scorerModel(arch, cnnInit(3), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Exact() {
		t.Error("the greedy soup's scorer evaluates in fast mode")
	}
}
