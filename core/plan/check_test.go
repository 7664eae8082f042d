package plan

import (
	"strings"
	"testing"

	"ladle/core/recipe"
)

// Check finds, without files, what Prepare would refuse before opening them.
func TestCheckWithoutFiles(t *testing.T) {
	for text, want := range map[string]string{
		"merge_method: ties\nbase_model: b\nmodels:\n  - model: a\n    parameters: {weight: 1, density: 2}\n": "models[0].parameters.density = 2 is above its maximum 1",
		"merge_method: ties\nbase_model: b\nmodels:\n  - model: a\n    parameters: {densty: 0.5}\n":           `did you mean "density"`,
		"merge_method: tie\nmodels: [a]\n":                        `did you mean "ties"`,
		"merge_method: task_arithmetic\nmodels: [a]\n":            "needs a base model",
		"merge_method: linear\nmodels: [a, b]\ndtype: float128\n": "float128",
		"merge_method: linear\nmodels: [a, b]\n":                  "",
	} {
		r, err := recipe.Parse([]byte(text), "", "")
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		err = Check(r)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", text, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
