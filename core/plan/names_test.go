package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"ladle/core/merge"
)

// The executor knows no method by name: what a method needs it declares in the
// registry (merge.Method), and this package runs the declarations. So no registered
// method's name may appear in the package's non-test source, as a word of an
// identifier, a string or a comment (case-insensitive; words split at anything but
// letters, digits and underscores).
func TestNoMethodNamesInPlan(t *testing.T) {
	names := map[string]bool{}
	for _, n := range merge.Names() {
		names[strings.ToLower(n)] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for i, line := range strings.Split(string(src), "\n") {
			words := strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
				return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
			})
			for _, w := range words {
				if names[w] {
					t.Errorf("%s:%d names the method %q: declare what it needs in core/merge instead\n\t%s", f, i+1, w, strings.TrimSpace(line))
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d source files", checked)
	}
}
