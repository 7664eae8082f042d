package state

import (
	"slices"
	"strings"
	"testing"
)

// TestAdapterBesideItsBase: an adapter folder picked with its base is applied to it
// (BASE+FOLDER in the recipe, mergekit's syntax), is not compared with the models as
// a checkpoint, can be left out and chosen again, and goes when its base goes.
func TestAdapterBesideItsBase(t *testing.T) {
	a := newApp()
	a.SetMethod("task_arithmetic")
	tensors := []Tensor{{Name: "fc.weight", DType: "F32", Shape: []int64{4, 3}}}
	base := ModelFile{Name: "base.safetensors", Format: "safetensors", Tensors: tensors}
	other := ModelFile{Name: "ft.safetensors", Format: "safetensors", Tensors: tensors}
	adapter := ModelFile{Name: "lora-a", Format: AdapterFormat, Tensors: []Tensor{
		{Name: "base_model.model.fc.lora_A.weight", DType: "F32", Shape: []int64{2, 3}},
		{Name: "base_model.model.fc.lora_B.weight", DType: "F32", Shape: []int64{4, 2}}}}
	a.AddModels(adapter, base, other) // the adapter first: it still finds its base
	if want := []string{"base.safetensors", "ft.safetensors", "base.safetensors+lora-a"}; !slices.Equal(a.Form.Models, want) {
		t.Fatalf("models %v, want %v", a.Form.Models, want)
	}
	if a.Form.Base != "base.safetensors" || a.RecipeErr != "" || !strings.Contains(a.RecipeText, "model: base.safetensors+lora-a") {
		t.Fatalf("base %q, error %q, recipe:\n%s", a.Form.Base, a.RecipeErr, a.RecipeText)
	}
	if c := a.Compat(); !c.OK() || c.Models != 3 {
		t.Errorf("compat %+v: the adapted model has its base's tensors", c)
	}
	if !a.Chosen("lora-a") {
		t.Error("the adapter is not shown as chosen")
	}
	a.ToggleModel("lora-a")
	if a.Chosen("lora-a") || slices.Contains(a.Form.Models, "base.safetensors+lora-a") {
		t.Errorf("toggled off: %v", a.Form.Models)
	}
	a.ToggleModel("lora-a")
	if !slices.Contains(a.Form.Models, "base.safetensors+lora-a") {
		t.Errorf("toggled on: %v", a.Form.Models)
	}
	// A recipe typed by hand may apply it to another model.
	a.SetRecipeText("merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n  - model: ft.safetensors+lora-a\n")
	if a.RecipeErr != "" {
		t.Errorf("typed recipe: %s", a.RecipeErr)
	}
	a.SetRecipeText("merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n  - model: base.safetensors+ft.safetensors\n")
	if !strings.Contains(a.RecipeErr, "not a LoRA adapter") {
		t.Errorf("a checkpoint named as an adapter: %q", a.RecipeErr)
	}
	a.SetRecipeText("merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n  - model: base.safetensors+lora-b\n")
	if !strings.Contains(a.RecipeErr, "not loaded") || !strings.Contains(a.RecipeErr, "adapter folder lora-b") || !strings.Contains(a.RecipeErr, "Choose a folder") {
		t.Errorf("a missing adapter: %q", a.RecipeErr)
	}
	a.SetRecipeText("merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n  - model: other.safetensors+lora-a\n")
	if !strings.Contains(a.RecipeErr, `base model "other.safetensors", which is not loaded`) {
		t.Errorf("a missing base of an adapter: %q", a.RecipeErr)
	}
	a.SetRecipeText("merge_method: task_arithmetic\nbase_model: base.safetensors\nmodels:\n  - model: lora-a\n")
	if !strings.Contains(a.RecipeErr, "lora-a is a LoRA adapter folder, not a model") || !strings.Contains(a.RecipeErr, "base.safetensors+lora-a") {
		t.Errorf("an adapter named as a model: %q", a.RecipeErr)
	}
	a.SetMethod("task_arithmetic")
	a.AddModels() // back to the form
	a.RemoveModel("base.safetensors")
	for _, m := range a.Form.Models {
		if strings.HasPrefix(m, "base.safetensors") {
			t.Errorf("after removing the base: %v", a.Form.Models)
		}
	}
}
