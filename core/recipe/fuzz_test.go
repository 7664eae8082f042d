package recipe

import (
	"errors"
	"testing"
)

// FuzzParse: no input makes Parse panic; every failure is a recipe Error; every
// recipe that parses normalises to YAML that parses back to the same canonical form.
func FuzzParse(f *testing.F) {
	f.Add([]byte(tiesRecipe))
	f.Add([]byte("merge_method: linear\nmodels: [a, {model: b, parameters: {weight: [{filter: fc, value: [0.1, 0.9]}, {value: 1}]}}]\nladle: {seed: 3, eval: {data: d}}\n"))
	f.Add([]byte("{merge_method: slerp, base_model: a, models: [b], parameters: {t: [0, 0.5, 1]}, out_dtype: bfloat16}"))
	f.Add([]byte("merge_method: rws_extract\nbase_model: p\nmodels: [c, r]\nparameters: {quantize: {levels: 16, type: linear}, layers: [conv1]}\n"))
	f.Add([]byte("slices:\n  - sources:\n    - {model: a, layer_range: [0, 4], parameters: {scale: 0.5}}\n    - {model: b, layer_range: [2, 6]}\n    parameters: {t: [0, 1]}\nmerge_method: slerp\nbase_model: a\n"))
	// Anchors, aliases and merge keys; infinities YAML spells several ways.
	f.Add([]byte(anchoredTies))
	f.Add([]byte("merge_method: linear\nmodels:\n  - &m {model: a, parameters: {weight: &w [1, 2]}}\n  - {<<: [*m, {model: c}], model: b}\nparameters: {quantize: {a: &x [1, 1], b: [*x, *x], levels: *w}}\n"))
	f.Add([]byte("merge_method: linear\nmodels: [a]\nparameters: {weight: -.inf, density: [0, -.Inf], t: .NaN}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data, "fuzz.yaml", "")
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		once := r.Normalise()
		r2, err := Parse(once, "", "")
		if err != nil {
			t.Fatalf("the normalised recipe does not parse: %v\n%s", err, once)
		}
		if twice := r2.Normalise(); string(twice) != string(once) {
			t.Fatalf("normalising is not stable:\n%s\n%s", once, twice)
		}
		// the YAML-free writer (the page's) reads back as the same recipe
		text := r.Text()
		r3, err := Parse(text, "", "")
		if err != nil {
			t.Fatalf("Text does not parse: %v\n%s\nfrom\n%s", err, text, once)
		}
		if again := r3.Normalise(); string(again) != string(once) {
			t.Fatalf("Text reads back as another recipe:\n%s\nreads as\n%s\nwant\n%s", text, again, once)
		}
		for _, m := range r.Models {
			for name, s := range m.Parameters {
				s.Eval(name, 0.5) // must not panic
			}
		}
	})
}
