package state

import "testing"

// A live curve goes when a file it was drawn from goes (removed, replaced by another
// lab's file of the same name, or all cleared); the straight line's ends move to the
// models still loaded.
func TestCurveLeavesWithItsFiles(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("a.pt"), mnistModel("b.pt"), mnistModel("c.pt"))
	a.SetInterp(true)
	if a.Sweep.A != "a.pt" || a.Sweep.B != "b.pt" {
		t.Fatalf("the straight line's ends default to %q and %q", a.Sweep.A, a.Sweep.B)
	}
	draw := func() {
		t.Helper()
		base, _, reason, ok := a.SweepTarget()
		if !ok {
			t.Fatal(reason)
		}
		a.Sweep.Base, a.Sweep.Points = base, []SweepPoint{{X: 0, Recipe: base}, {X: 1, Recipe: base}}
	}
	draw()
	a.RemoveModel("c.pt") // not on the curve
	if len(a.Sweep.Points) == 0 {
		t.Error("removing a file the curve does not use dropped it")
	}
	a.RemoveModel("b.pt")
	if len(a.Sweep.Points) != 0 {
		t.Error("the curve of a removed model is still shown")
	}
	if a.Sweep.A != "a.pt" || a.Sweep.B != "" {
		t.Errorf("after removing b.pt the line runs from %q to %q", a.Sweep.A, a.Sweep.B)
	}
	a.AddModels(mnistModel("d.pt"))
	if a.Sweep.B != "d.pt" {
		t.Errorf("a new model does not take the free end: %q to %q", a.Sweep.A, a.Sweep.B)
	}
	draw()
	a.AddModels(mnistModel("d.pt")) // another file of the same name
	if len(a.Sweep.Points) != 0 {
		t.Error("the curve of a replaced file is still shown")
	}
	draw()
	a.Sweep.Running = true
	id := a.Sweep.ID
	a.ClearModels()
	if len(a.Sweep.Points) != 0 || a.Sweep.Running || a.Sweep.ID == id || a.Sweep.A != "" {
		t.Errorf("after Clear all: %d points, running %v, same ID %v, A %q", len(a.Sweep.Points), a.Sweep.Running, a.Sweep.ID == id, a.Sweep.A)
	}
}

// Picking a method whose swept scalar is required without a default (slerp's t, a
// global one; della's density, per model) starts it at the middle of its range, so
// that the form's recipe runs; a value already typed stays.
func TestPickedMethodStartsItsRequiredScalar(t *testing.T) {
	a := newApp()
	a.AddModels(mnistModel("a.pt"), mnistModel("b.pt"))
	a.SetMethod("slerp")
	if a.Form.Global["t"] != "0.5" || !a.CanRun() {
		t.Errorf("slerp: t %q, can run %v (%s)\n%s", a.Form.Global["t"], a.CanRun(), a.RecipeErr, a.RecipeText)
	}
	a.SetParam("", "t", "0.3")
	a.SetMethod("linear")
	a.SetMethod("slerp")
	if a.Form.Global["t"] != "0.3" {
		t.Errorf("a typed t was replaced by %q", a.Form.Global["t"])
	}
	a.SetMethod("della")
	if !a.CanRun() {
		t.Errorf("della: %s\n%s", a.RecipeErr, a.RecipeText)
	}
	for _, m := range []string{"b.pt"} {
		if a.Form.PerModel[m]["density"] != "0.5" {
			t.Errorf("della: %s's density %q", m, a.Form.PerModel[m]["density"])
		}
	}
}
