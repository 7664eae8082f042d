package labs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"ladle/core/eval"
	"ladle/core/nn"
	"ladle/core/recipe"
)

// TestMultitaskClaims re-measures the multitask lab's table from its files with
// package nn (the page's evaluator) and the recipes run through core/plan: every
// task's held-out accuracy of the base, the fine-tunes and each merge, the default
// split's accuracy as the mean of the tasks', and the claims on the re-measured table.
func TestMultitaskClaims(t *testing.T) {
	dir, lab := labByName(t, "multitask")
	if lab.Table == nil || !slices.Equal(lab.Table.Tasks, []string{"upright", "rotated", "inverted", "shifted"}) {
		t.Fatalf("table %+v", lab.Table)
	}
	tests := make([]*eval.Dataset, len(lab.Table.Tasks))
	all := loadSplit(t, dir, "")
	for i, task := range lab.Table.Tasks {
		tests[i] = loadSplit(t, dir, task)
		val := loadSplit(t, dir, "val-"+task)
		if tests[i].Len() != mtTest || val.Len() != mtVal || tests[i].Features() != mnistFeatures {
			t.Fatalf("%s: %d test and %d validation samples of %d features", task, tests[i].Len(), val.Len(), tests[i].Features())
		}
		// Validation (MNIST's training images) and test (its test images) are disjoint.
		if overlap(tests[i], val) {
			t.Errorf("%s: the validation and test splits share samples", task)
		}
	}
	if all.Len() != len(tests)*mtTest {
		t.Fatalf("the default split holds %d samples", all.Len())
	}
	// The same digits, shown four ways: the views differ, the labels agree.
	for i := 1; i < len(tests); i++ {
		if !slices.Equal(tests[i].Labels, tests[0].Labels) || overlap(tests[i], tests[0]) {
			t.Errorf("task %s: not the same digits shown another way", lab.Table.Tasks[i])
		}
	}
	measured := &Table{Tasks: lab.Table.Tasks}
	for k, row := range lab.Table.Rows {
		var models []*nn.Model
		switch {
		case k == 0:
			models = []*nn.Model{loadModel(t, dir, "base.safetensors")}
		case k == 1:
			for _, task := range lab.Table.Tasks {
				models = append(models, loadModel(t, dir, "ft-"+task+".safetensors"))
			}
		default:
			text, err := os.ReadFile(filepath.Join(dir, row.Recipe))
			if err != nil {
				t.Fatal(err)
			}
			r, err := recipe.Parse(text, row.Recipe, dir)
			if err != nil {
				t.Fatal(err)
			}
			if l, ok := r.Param("lambda", -1, "", 0); !ok || l != row.Lambda || len(r.Models) != 4 || r.BaseModel != "base.safetensors" {
				t.Errorf("%s: lambda %v (table %v), %d models, base %q", row.Recipe, l, row.Lambda, len(r.Models), r.BaseModel)
			}
			if !slices.Contains(mtLambdas(), row.Lambda) {
				t.Errorf("%s: λ %v is not on the validation grid", row.Recipe, row.Lambda)
			}
			models = []*nn.Model{mergeModel(t, dir, row.Recipe)}
		}
		got := TableRow{Name: row.Name}
		var mean float64
		for i, d := range tests {
			m := models[min(i, len(models)-1)]
			a := accuracy(t, m, d)
			closeAcc(t, row.Name+" on "+lab.Table.Tasks[i], row.Accuracy[i], a, d.Len())
			got.Accuracy = append(got.Accuracy, a)
			mean += a / float64(len(tests))
		}
		got.Average = mean
		if len(models) == 1 {
			closeAcc(t, row.Name+" on the default split", row.Average, accuracy(t, models[0], all), all.Len())
		}
		measured.Rows = append(measured.Rows, got)
	}
	for _, c := range mtClaims(measured) {
		if !c.Holds {
			t.Errorf("re-measured, the claim does not hold: %s", c.Claim)
		}
	}
}

// The lab stays within 3 MB.
func TestMultitaskSize(t *testing.T) {
	_, all := buildLabs(t)
	for _, b := range all {
		if b.Name == "multitask" && b.Bytes > 3e6 {
			t.Errorf("the multitask lab takes %d bytes, want at most 3 MB", b.Bytes)
		}
	}
}

// The tasks' views are what they say: a quarter turn clockwise, an inversion, a
// shift; halving MNIST averages 2×2 blocks.
func TestMultitaskViews(t *testing.T) {
	px := make([]float32, mnistFeatures)
	px[0*mnistSide+1] = 7 // row 0, column 1
	r := slices.Clone(px)
	rotate90(r)
	if r[1*mnistSide+(mnistSide-1)] != 7 { // clockwise: (row 0, col 1) → (row 1, col 13)
		t.Errorf("rotate90 put the pixel elsewhere")
	}
	inv := slices.Clone(px)
	invert(inv)
	if inv[1] != mnistMax-7 || inv[0] != mnistMax {
		t.Errorf("invert: %v %v", inv[0], inv[1])
	}
	s := slices.Clone(px)
	shiftMNIST(s, 3, 3)
	if s[3*mnistSide+4] != 7 || s[1] != 0 {
		t.Errorf("shift: the pixel did not move by (3, 3)")
	}
}
