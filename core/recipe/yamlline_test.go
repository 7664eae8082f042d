package recipe

import (
	"strings"
	"testing"
)

// A YAML syntax error names the line the mistake is on, not where its block began.
func TestSyntaxErrorNamesTheLine(t *testing.T) {
	for text, want := range map[string]string{
		"merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n   - model: b\n":        "line 5: did not find expected '-' indicator (check this line's indentation",
		"merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: 1\n     density: 2\n": "line 6: did not find expected key",
		"merge_method: linear\nmodels:\n  - model: a\n  - model: b\n parameters: {x: 1}\n":                 "line 5:",
		"merge_method: [linear\n": "not valid YAML",
	} {
		_, err := Parse([]byte(text), "", "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
