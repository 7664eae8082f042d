package state

import (
	"slices"

	"ladle/core/lora/ref"
)

// AdapterFormat is the Format the engine gives a PEFT LoRA adapter folder
// (engine.AdapterFormat). An adapter is not a model: recipes name it beside its base
// as BASE+FOLDER, mergekit's syntax, and the page lists it so that it can be chosen.
const AdapterFormat = "lora-adapter"

// IsAdapter reports whether the file is a LoRA adapter folder.
func (m ModelFile) IsAdapter() bool { return m.Format == AdapterFormat }

// adapted resolves BASE+FOLDER: the base's description under the full name (an
// adapted model has its base's tensors), or the problem with either part.
func (a *App) adapted(name string) (ModelFile, bool) {
	baseName, dir, ok := ref.Split(name)
	if !ok {
		return ModelFile{}, false
	}
	base, okBase := a.plain(baseName)
	ad, okAd := a.plain(dir)
	if !okBase || !okAd {
		return ModelFile{}, false
	}
	switch {
	case ad.Error != "":
		return ModelFile{Name: name, Error: ad.Error}, true
	case !ad.IsAdapter():
		return ModelFile{Name: name, Error: dir + " is not a LoRA adapter folder (a folder with adapter_config.json and adapter_model.safetensors)"}, true
	case base.IsAdapter():
		return ModelFile{Name: name, Error: baseName + " is a LoRA adapter, not a base model"}, true
	}
	base.Name = name
	return base, true
}

func (a *App) plain(name string) (ModelFile, bool) {
	for _, m := range a.Models {
		if m.Name == name {
			return m, true
		}
	}
	return ModelFile{}, false
}

// adapterBase is the model a newly chosen adapter is applied to: the form's base,
// else the first chosen plain model, else the first loaded one ("" when none).
func (a *App) adapterBase() string {
	if m, ok := a.plain(a.Form.Base); ok && !m.IsAdapter() && m.Error == "" {
		return m.Name
	}
	for _, name := range a.Form.Models {
		if m, ok := a.plain(name); ok && !m.IsAdapter() && m.Error == "" {
			return name
		}
	}
	for _, m := range a.Models {
		if !m.IsAdapter() && m.Error == "" {
			return m.Name
		}
	}
	return ""
}

// usesAdapter lists the form's entries that apply the adapter dir.
func (a *App) usesAdapter(dir string) []string {
	var out []string
	for _, name := range a.Form.Models {
		if _, d, ok := ref.Split(name); ok && d == dir {
			out = append(out, name)
		}
	}
	return out
}

// chooseAdapter adds BASE+dir to the form's models, when there is a base.
func (a *App) chooseAdapter(dir string) {
	if base := a.adapterBase(); base != "" && len(a.usesAdapter(dir)) == 0 {
		a.Form.Models = append(a.Form.Models, base+"+"+dir)
	}
}

// dropEntries removes the form's entries that name a model (as itself, as a base or
// as an adapter).
func (a *App) dropEntries(name string) {
	a.Form.Models = slices.DeleteFunc(a.Form.Models, func(e string) bool {
		if e == name {
			return true
		}
		b, d, ok := ref.Split(e)
		if ok && (b == name || d == name) {
			delete(a.Form.PerModel, e)
			return true
		}
		return false
	})
}
