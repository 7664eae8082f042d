package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ladle/core/ckpt"
	"ladle/core/eval"
	"ladle/core/nn"
)

// labFiles reads files of a bundled lab (public/labs/NAME), skipping when absent.
func labFiles(t *testing.T, lab string, names ...string) []File {
	t.Helper()
	var files []File
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "public", "labs", lab, n))
		if err != nil {
			t.Skipf("the %s lab is not bundled: %v", lab, err)
		}
		files = append(files, memFile(n, b))
	}
	return files
}

// wantEval is eval.Evaluate of a lab checkpoint, formatted as `ladle eval --json`.
func wantEval(t *testing.T, lab, model, split string) EvalResult {
	t.Helper()
	dir := filepath.Join("..", "..", "public", "labs", lab)
	src, err := ckpt.Open(filepath.Join(dir, model))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	arch, err := nn.ArchOf(src)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Load(arch, src)
	if err != nil {
		t.Fatal(err)
	}
	m.SetExact(true) // as ladle eval does
	d, err := eval.LoadSplit(filepath.Join(dir, "data.safetensors"), split)
	if err != nil {
		t.Fatal(err)
	}
	r, err := eval.Evaluate(m, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	return EvalResult{Model: model, Accuracy: FormatNumber(r.Accuracy), Loss: FormatNumber(r.Loss), N: FormatNumber(r.N)}
}

func TestEvaluateAnswersEachModel(t *testing.T) {
	files := labFiles(t, "soups", "finetune-01.safetensors", "finetune-02.safetensors", "data.safetensors")
	h := newHost()
	e := New(h.env())
	e.env.ProgressEvery = -1
	e.Handle(Request{Type: TypeEvaluate, ID: "ev", Eval: &EvalSpec{
		Models: []string{"finetune-02.safetensors", "finetune-01.safetensors", "missing.safetensors"},
		Data:   "data.safetensors", Split: "val"}}, files)
	var progress []EvalProgress
	var ans *Evaluated
	for _, m := range h.msgs {
		switch m := m.(type) {
		case EvalProgress:
			progress = append(progress, m)
		case Evaluated:
			ans = &m
		default:
			t.Fatalf("unexpected message %#v", m)
		}
	}
	if ans == nil || len(ans.Results) != 3 {
		t.Fatalf("answer %#v", ans)
	}
	for i, name := range []string{"finetune-02.safetensors", "finetune-01.safetensors"} {
		got, want := ans.Results[i], wantEval(t, "soups", name, "val")
		got.Seconds = 0
		if got != want {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
	if r := ans.Results[2]; r.Error == "" || !strings.Contains(r.Error, "missing.safetensors") || r.Accuracy != "" {
		t.Errorf("a model that was not sent: %+v", r)
	}
	if len(progress) < 3 {
		t.Fatalf("%d progress messages", len(progress))
	}
	last := progress[len(progress)-1]
	if last.ModelsDone != 3 || last.ModelsTotal != 3 {
		t.Errorf("the last progress is %+v", last)
	}
	for _, p := range progress[:len(progress)-1] {
		if p.SamplesTotal != 719 || p.SamplesDone > p.SamplesTotal || p.ModelsDone > 2 {
			t.Errorf("progress %+v", p)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	files := labFiles(t, "soups", "finetune-01.safetensors", "data.safetensors")
	cases := []struct {
		spec  *EvalSpec
		where string
		want  string
	}{
		{nil, "models", "nothing to evaluate"},
		{&EvalSpec{Models: []string{"finetune-01.safetensors"}}, "data", "no dataset"},
		{&EvalSpec{Models: []string{"finetune-01.safetensors"}, Data: "nope.safetensors"}, "data", "nope.safetensors"},
		{&EvalSpec{Models: []string{"finetune-01.safetensors"}, Data: "data.safetensors", Split: "blur"}, "", `"val"`},
		{&EvalSpec{Models: []string{"finetune-01.safetensors"}, Data: "finetune-01.safetensors"}, "", "not a dataset"},
		{&EvalSpec{Models: []string{"finetune-01.safetensors"}, Data: "data.safetensors", Arch: "{"}, "arch", "ARCH.json"},
	}
	for _, c := range cases {
		h := newHost()
		New(h.env()).Handle(Request{Type: TypeEvaluate, ID: "x", Eval: c.spec}, files)
		m, ok := h.msgs[len(h.msgs)-1].(Error)
		if !ok {
			t.Errorf("%+v: answered %#v", c.spec, h.msgs[len(h.msgs)-1])
			continue
		}
		if m.Error.Where != c.where || !strings.Contains(m.Error.Message, c.want) {
			t.Errorf("%+v: error %+v; want where %q and %q", c.spec, m.Error, c.where, c.want)
		}
	}
	// a model the arch does not fit: an error in its row, the others still scored
	h := newHost()
	New(h.env()).Handle(Request{Type: TypeEvaluate, ID: "x", Eval: &EvalSpec{Models: []string{"data.safetensors", "finetune-01.safetensors"}, Data: "data.safetensors"}}, files)
	ans, ok := h.msgs[len(h.msgs)-1].(Evaluated)
	if !ok || ans.Results[0].Error == "" || ans.Results[1].Error != "" || ans.Results[1].Accuracy == "" {
		t.Errorf("answer %#v", h.msgs[len(h.msgs)-1])
	}
}

// An evaluate request stops on cancel: the answer is cancelled, nothing else.
func TestEvaluateCancel(t *testing.T) {
	files := labFiles(t, "soups", "finetune-01.safetensors", "data.safetensors")
	var models []string
	for range 200 {
		models = append(models, "finetune-01.safetensors")
	}
	h := newHost()
	e := New(h.env())
	e.Go(Request{Type: TypeEvaluate, ID: "c", Eval: &EvalSpec{Models: models, Data: "data.safetensors"}}, files)
	e.Handle(Request{Type: TypeCancel, ID: "c"}, nil)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-h.got:
			switch m.(type) {
			case EvalProgress:
				continue
			case Cancelled:
				return
			default:
				t.Fatalf("after cancel the engine answered %#v", m)
			}
		case <-deadline:
			t.Fatal("no answer after cancel")
		}
	}
}

// A recipe in an evaluate request is merged as a merge request would and the result
// evaluated: the same numbers as evaluating the merge request's file.
func TestEvaluateRecipe(t *testing.T) {
	files := labFiles(t, "soups", "pre.safetensors", "finetune-03.safetensors", "data.safetensors")
	text := "merge_method: wise_ft\nmodels:\n  - model: pre.safetensors\n  - model: finetune-03.safetensors\nparameters: {alpha: 0.7}\n"
	h := newHost()
	e := New(h.env())
	e.Handle(Request{Type: TypeMerge, ID: "m", Recipe: text}, files)
	if _, ok := h.msgs[len(h.msgs)-1].(Done); !ok {
		t.Fatalf("merge: %#v", h.msgs[len(h.msgs)-1])
	}
	out := h.outputs[0].buf.Bytes()
	withResult := append(files, memFile("result", out))
	e.Handle(Request{Type: TypeEvaluate, ID: "e", Eval: &EvalSpec{Models: []string{"result"},
		Recipes: []NamedRecipe{{Name: "alpha=0.7", Recipe: text}}, Data: "data.safetensors"}}, withResult)
	ans := h.msgs[len(h.msgs)-1].(Evaluated)
	a, b := ans.Results[0], ans.Results[1]
	if a.Error != "" || a.Accuracy == "" || a.Accuracy != b.Accuracy || a.Loss != b.Loss || a.N != b.N || b.Model != "alpha=0.7" {
		t.Errorf("the merged file scores %+v, the recipe %+v", a, b)
	}
}
