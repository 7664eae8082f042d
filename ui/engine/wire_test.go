package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"ladle/core/recipe"
	"ladle/ui/wire"
)

// The page reads the protocol through package wire: its copies of this package's
// evaluate and analyze names and answers must stay the same.
func TestWireMatchesTheEngine(t *testing.T) {
	for _, c := range [][2]string{
		{TypeEvaluate, wire.TypeEvaluate}, {TypeEvaluated, wire.TypeEvaluated},
		{TypeAnalyze, wire.TypeAnalyze}, {TypeAnalyzed, wire.TypeAnalyzed},
	} {
		if c[0] != c[1] {
			t.Errorf("engine %q, wire %q", c[0], c[1])
		}
	}
	same := func(a, b any) {
		ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
		if ta.NumField() != tb.NumField() {
			t.Fatalf("%v has %d fields, %v %d", ta, ta.NumField(), tb, tb.NumField())
		}
		for i := range ta.NumField() {
			fa, fb := ta.Field(i), tb.Field(i)
			if fa.Name != fb.Name || fa.Type != fb.Type || fa.Tag != fb.Tag {
				t.Errorf("%v.%s %v %q; %v.%s %v %q", ta, fa.Name, fa.Type, fa.Tag, tb, fb.Name, fb.Type, fb.Tag)
			}
		}
	}
	same(EvalResult{}, wire.EvalResult{})
	same(NamedRecipe{}, wire.NamedRecipe{})
}

// A check request answers the command's own check, in its words.
func TestCheckRequest(t *testing.T) {
	h := newHost()
	e := New(h.env())
	for text, want := range map[string]string{
		"merge_method: linear\nmodels: [a, b]\n":                   "",
		"merge_method: ties\nmodels: [a, b]\n":                     "base_model: missing: ties needs a base model",
		"merge_method: linear\nmodels: [a]\nparameters: {nope: 1}": "parameters.nope: unknown parameter",
		"merge_method: dare_ties\nbase_model: b\nmodels: [{model: a, parameters: {density: [{filter: mlp, value: [0.2, 0.8]}, {value: 0.5}]}}]\nladle: {seed: 18446744073709551615, eval: {data: d}}\n": "",
		"merge_method: [": "not valid YAML",
	} {
		e.Handle(Request{Type: TypeCheck, ID: "c", Recipe: text}, nil)
		got, ok := h.last(t).(Checked)
		if !ok || got.Recipe != text || got.ID != "c" || (want == "") != (got.Message == "") || !strings.Contains(got.Message, want) {
			t.Errorf("%q: %#v, want %q", text, h.last(t), want)
		}
		// the parse travels as JSON and reads back as the same recipe
		if r, err := recipe.Parse([]byte(text), "recipe", ""); err != nil {
			if got.Parsed != "" {
				t.Errorf("%q does not parse, yet the answer holds %s", text, got.Parsed)
			}
		} else {
			var back recipe.Recipe
			if err := json.Unmarshal([]byte(got.Parsed), &back); err != nil || string(back.Normalise()) != string(r.Normalise()) {
				t.Errorf("%q: the parse reads back as\n%s (%v)", text, back.Normalise(), err)
			}
		}
	}
}
