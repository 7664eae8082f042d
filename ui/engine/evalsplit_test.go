package engine

import (
	"encoding/json"
	"strings"
	"testing"

	"ladle/ui/wire"
)

// evalPart runs part {index, count} of one model's evaluation and returns its answer
// as the page reads it (through JSON, into wire's types), with its progress.
func evalPart(t *testing.T, files []File, spec EvalSpec, index, count int) (wire.EvalResult, []EvalProgress) {
	t.Helper()
	h := newHost()
	e := New(h.env())
	e.env.ProgressEvery = -1
	e.Handle(Request{Type: TypeEvaluate, ID: "p", Part: &Part{Index: index, Count: count}, Eval: &spec}, files)
	var progress []EvalProgress
	for _, m := range h.msgs[:len(h.msgs)-1] {
		progress = append(progress, m.(EvalProgress))
	}
	ans, ok := h.msgs[len(h.msgs)-1].(Evaluated)
	if !ok || len(ans.Results) != 1 {
		t.Fatalf("part %d of %d: %#v", index, count, h.msgs[len(h.msgs)-1])
	}
	b, err := json.Marshal(ans)
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ Results []wire.EvalResult }
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back.Results[0], progress
}

// A model's evaluation split over 1 to 4 parts (workers) combines into exactly the
// strings of one whole evaluate request and of eval.Evaluate (`ladle eval --json`).
func TestSplitEvaluationIsExact(t *testing.T) {
	files := labFiles(t, "soups", "finetune-01.safetensors", "finetune-04.safetensors", "data.safetensors")
	for _, c := range []struct{ model, split string }{{"finetune-01.safetensors", "val"}, {"finetune-04.safetensors", ""}} {
		want := wantEval(t, "soups", c.model, c.split)
		spec := EvalSpec{Models: []string{c.model}, Data: "data.safetensors", Split: c.split}
		h := newHost()
		New(h.env()).Handle(Request{Type: TypeEvaluate, ID: "w", Eval: &spec}, files)
		whole := h.msgs[len(h.msgs)-1].(Evaluated).Results[0]
		whole.Seconds = 0
		if whole != want {
			t.Fatalf("%s: one request gives %+v, ladle eval %+v", c.model, whole, want)
		}
		for count := 1; count <= 4; count++ {
			var parts []wire.EvalResult
			samples := 0
			for i := count - 1; i >= 0; i-- { // the page combines in arrival order
				r, progress := evalPart(t, files, spec, i, count)
				if r.Part == nil || r.Accuracy != "" {
					t.Fatalf("part %d of %d answered %+v", i, count, r)
				}
				samples += len(r.Part.Losses)
				if len(progress) < 2 {
					t.Fatalf("part %d of %d: %d progress messages", i, count, len(progress))
				}
				if p := progress[len(progress)-2]; p.SamplesTotal != len(r.Part.Losses) || p.SamplesDone != p.SamplesTotal {
					t.Errorf("part %d of %d: last samples progress %+v for %d samples", i, count, p, len(r.Part.Losses))
				}
				parts = append(parts, r)
			}
			got := wire.CombineEval(parts)
			if got.Model != want.Model || got.Accuracy != want.Accuracy || got.Loss != want.Loss || got.N != want.N || got.Error != "" {
				t.Errorf("%s in %d parts (%d samples): %+v, want %+v", c.model, count, samples, got, want)
			}
		}
	}
}

func TestSplitEvaluationErrors(t *testing.T) {
	files := labFiles(t, "soups", "finetune-01.safetensors", "data.safetensors")
	for _, c := range []struct {
		part Part
		spec EvalSpec
	}{
		{Part{Index: 2, Count: 2}, EvalSpec{Models: []string{"finetune-01.safetensors"}, Data: "data.safetensors"}},
		{Part{Index: 0, Count: 0}, EvalSpec{Models: []string{"finetune-01.safetensors"}, Data: "data.safetensors"}},
		{Part{Index: 0, Count: 2}, EvalSpec{Models: []string{"finetune-01.safetensors", "finetune-01.safetensors"}, Data: "data.safetensors"}},
		{Part{Index: 0, Count: 2}, EvalSpec{Models: []string{"finetune-01.safetensors"}, Recipes: []NamedRecipe{{Name: "r", Recipe: "merge_method: linear\nmodels: [finetune-01.safetensors]\n"}}, Data: "data.safetensors"}},
	} {
		h := newHost()
		New(h.env()).Handle(Request{Type: TypeEvaluate, ID: "x", Part: &c.part, Eval: &c.spec}, files)
		if m, ok := h.msgs[len(h.msgs)-1].(Error); !ok || m.Error.Where != "part" {
			t.Errorf("part %+v of %+v: %#v", c.part, c.spec, h.msgs[len(h.msgs)-1])
		}
	}
	// a part's error is the model's
	spec := EvalSpec{Models: []string{"data.safetensors"}, Data: "data.safetensors"}
	a, _ := evalPart(t, files, spec, 0, 2)
	b, _ := evalPart(t, files, spec, 1, 2)
	if r := wire.CombineEval([]wire.EvalResult{b, a}); r.Error == "" || r.Accuracy != "" || !strings.Contains(r.Error, "data.safetensors") {
		t.Errorf("a model that cannot be evaluated, in parts: %+v", r)
	}
	// parts that do not join are refused, not summed
	if r := wire.CombineEval([]wire.EvalResult{{Part: &wire.EvalPart{Lo: 0, Losses: []float64{1}}}, {Part: &wire.EvalPart{Lo: 2, Losses: []float64{1}}}}); r.Error == "" {
		t.Errorf("parts with a gap: %+v", r)
	}
}
