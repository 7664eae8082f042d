package merge

import (
	"encoding/json"

	"ladle/core/merge/info"
)

// MethodInfo is a method's self-description as data: what `ladle methods --json`
// prints and what the playground builds its forms from (package info, which the page
// reads without linking the methods).
type MethodInfo = info.Method

// ParamInfo describes one parameter.
type ParamInfo = info.Param

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
		Choices: p.Choices, Doc: p.Doc, PerModel: p.PerModel, Ladle: p.Ladle, Multi: p.Multi,
		Sweep: p.Sweep, SweepPair: p.SweepPair}
	for _, f := range p.Fields {
		pi.Fields = append(pi.Fields, paramInfo(f))
	}
	return pi
}

// DescribeJSON is Describe as indented JSON, as info's registry.json holds it.
func DescribeJSON() ([]byte, error) {
	data, err := json.MarshalIndent(Describe(), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
