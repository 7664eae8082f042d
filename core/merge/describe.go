package merge

// MethodInfo is a method's self-description as data: what `ladle methods --json`
// prints and what the playground builds its forms from.
type MethodInfo struct {
	Name      string `json:"name"`
	Summary   string `json:"summary"`
	Paper     string `json:"paper"`
	NeedsBase bool   `json:"needs_base"`
	// OptionalBase: a base_model may be given (the method then uses it).
	OptionalBase bool `json:"optional_base,omitempty"`
	NeedsEval    bool `json:"needs_eval,omitempty"`
	// PartialModels: a model may lack tensors (RWS signatures cover a few layers), so
	// the models need not line up tensor for tensor (Method.PartialModels).
	PartialModels bool `json:"partial_models,omitempty"`
	// SelectionKey is where a whole-model selection step (greedy soup's) records its
	// steps and chosen models in the output's metadata ("" when the method has none).
	SelectionKey string      `json:"selection_key,omitempty"`
	MinModels    int         `json:"min_models"`
	MaxModels    int         `json:"max_models,omitempty"`
	Random       bool        `json:"random,omitempty"`
	Roles        []string    `json:"roles,omitempty"`
	Params       []ParamInfo `json:"params"`
}

// ParamInfo describes one parameter.
type ParamInfo struct {
	Name     string      `json:"name"`
	Type     string      `json:"type"`
	Default  any         `json:"default,omitempty"`
	Required bool        `json:"required,omitempty"`
	Min      *float64    `json:"min,omitempty"`
	Max      *float64    `json:"max,omitempty"`
	Choices  []string    `json:"choices,omitempty"`
	Doc      string      `json:"doc"`
	PerModel bool        `json:"per_model,omitempty"`
	Ladle    bool        `json:"ladle,omitempty"`
	Multi    bool        `json:"multi,omitempty"`
	Fields   []ParamInfo `json:"fields,omitempty"`
}

// Describe lists every method as data, sorted by name.
func Describe() []MethodInfo {
	var out []MethodInfo
	for _, m := range All() {
		out = append(out, m.Info())
	}
	return out
}

// Info describes one method as data.
func (m *Method) Info() MethodInfo {
	info := MethodInfo{Name: m.Name, Summary: m.Summary, Paper: m.Paper, NeedsBase: m.NeedsBase, OptionalBase: m.OptionalBase, NeedsEval: m.NeedsEval,
		MinModels: m.MinModels, MaxModels: m.MaxModels, Random: m.Random, Roles: m.Roles, Params: []ParamInfo{},
		PartialModels: m.PartialModels}
	if m.Select != nil {
		info.SelectionKey = m.Select.MetadataKey
	}
	for _, p := range m.Params {
		info.Params = append(info.Params, paramInfo(p))
	}
	return info
}

func paramInfo(p Param) ParamInfo {
	pi := ParamInfo{Name: p.Name, Type: p.Type.String(), Default: p.Default, Required: p.Required, Min: p.Min, Max: p.Max,
		Choices: p.Choices, Doc: p.Doc, PerModel: p.PerModel, Ladle: p.Ladle, Multi: p.Multi}
	for _, f := range p.Fields {
		pi.Fields = append(pi.Fields, paramInfo(f))
	}
	return pi
}
