// Package info is the merge method registry's self-description as data, without the
// methods' code: what `ladle methods --json` prints and what the playground page
// builds its forms from. Package merge describes its registry with these types
// (merge.Describe); registry.json is that description, generated from the registry
// (go generate ./core/merge/info) and checked against it by a test in package merge,
// so that the page program can show the registry without linking the methods.
//
// Invariant: Registry() equals merge.Describe(), field for field, with JSON's
// numbers (a default of type int reads back as float64; a []string default stays a
// []string).
package info

import (
	_ "embed"
	"encoding/json"
)

// Method is a method's self-description.
type Method struct {
	Name      string `json:"name"`
	Summary   string `json:"summary"`
	Paper     string `json:"paper"`
	NeedsBase bool   `json:"needs_base"`
	// OptionalBase: a base_model may be given (the method then uses it).
	OptionalBase bool `json:"optional_base,omitempty"`
	NeedsEval    bool `json:"needs_eval,omitempty"`
	// PartialModels: a model may lack tensors (RWS signatures cover a few layers), so
	// the models need not line up tensor for tensor (merge.Method.PartialModels).
	PartialModels bool `json:"partial_models,omitempty"`
	// SelectionKey is where a whole-model selection step (greedy soup's) records its
	// steps and chosen models in the output's metadata ("" when the method has none).
	SelectionKey string   `json:"selection_key,omitempty"`
	MinModels    int      `json:"min_models"`
	MaxModels    int      `json:"max_models,omitempty"`
	Random       bool     `json:"random,omitempty"`
	Roles        []string `json:"roles,omitempty"`
	Params       []Param  `json:"params"`
}

// Param describes one parameter.
type Param struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Default  any      `json:"default,omitempty"`
	Required bool     `json:"required,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Choices  []string `json:"choices,omitempty"`
	Doc      string   `json:"doc"`
	PerModel bool     `json:"per_model,omitempty"`
	Ladle    bool     `json:"ladle,omitempty"`
	Multi    bool     `json:"multi,omitempty"`
	Fields   []Param  `json:"fields,omitempty"`
	// Sweep marks the method's main scalar, the one the page's Sweep varies, and
	// describes its axis; SweepPair makes it the weight between two models (1 − x, x).
	Sweep     string `json:"sweep,omitempty"`
	SweepPair bool   `json:"sweep_pair,omitempty"`
}

//go:generate go run ./gen

//go:embed registry.json
var registryJSON []byte

// RegistryJSON is registry.json: merge.Describe() as JSON, indented.
func RegistryJSON() []byte { return registryJSON }

// Registry decodes registry.json.
func Registry() ([]Method, error) { return Decode(registryJSON) }

// Decode reads a registry description (`ladle methods --json`, registry.json); a list
// default of strings becomes a []string, as the registry declares it.
func Decode(data []byte) ([]Method, error) {
	var ms []Method
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, err
	}
	for i := range ms {
		fixDefaults(ms[i].Params)
	}
	return ms, nil
}

func fixDefaults(ps []Param) {
	for i := range ps {
		if list, ok := ps[i].Default.([]any); ok {
			strs := make([]string, 0, len(list))
			for _, v := range list {
				s, isStr := v.(string)
				if !isStr {
					strs = nil
					break
				}
				strs = append(strs, s)
			}
			if strs != nil {
				ps[i].Default = strs
			}
		}
		fixDefaults(ps[i].Fields)
	}
}
