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
		// The parser names a tab's own line; the search starts there (it said line 3).
		"merge_method: linear\n\tmodels: [a]\n":                        "line 2: found a tab character",
		"merge_method: linear\nmodels:\n\t- model: base.safetensors\n": "line 3: found character that cannot start any token (YAML indents with spaces, not tabs)",
		"a: 1\nb: 2\n\tc: 3\nd: 4\n":                                   "line 3: found a tab character",
		"merge_method: linear\nmodels: [a\n":                           "line 2: did not find expected ',' or ']'",
	} {
		_, err := Parse([]byte(text), "", "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
