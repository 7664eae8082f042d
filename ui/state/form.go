package state

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"ladle/core/merge/info"
	recipe "ladle/core/recipe/spec"
)

// Form is what the method picker and the model list hold: the choices a person makes
// with controls, kept as the text they typed.
type Form struct {
	Method   string
	Base     string                       // file name of the base model; "" when the method takes none (or an optional one is not picked)
	Models   []string                     // file names of the models to merge, in order
	Global   map[string]string            // global parameter → typed text
	PerModel map[string]map[string]string // model → parameter → typed text
	Seed     string
}

// Field is one parameter input of the form, ready to render.
type Field struct {
	Param   info.Param
	Model   string // "" for a global parameter
	Value   string // the text typed so far ("" shows the default)
	Default string
	Error   string // why Value is not acceptable, "" when it is
}

// ID is the field's stable DOM id.
func (f Field) ID() string {
	if f.Model == "" {
		return "param-" + f.Param.Name
	}
	return "param-" + f.Model + "-" + f.Param.Name
}

func formatDefault(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []string:
		return strings.Join(x, ", ")
	}
	return fmt.Sprint(v)
}

// parseValue turns typed text into a recipe setting: a number, a bool, a string, or a
// comma-separated list (a gradient over layers for numbers; a list for string lists).
func parseValue(p info.Param, text string) (recipe.Setting, error) {
	text = strings.TrimSpace(text)
	switch p.Type {
	case "float", "int":
		parts := strings.Split(text, ",")
		var nums []float64
		for _, part := range parts {
			f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return recipe.Setting{}, fmt.Errorf("%q is not a number", strings.TrimSpace(part))
			}
			if p.Type == "int" && f != math.Trunc(f) {
				return recipe.Setting{}, fmt.Errorf("%v is not a whole number", f)
			}
			if p.Min != nil && f < *p.Min {
				return recipe.Setting{}, fmt.Errorf("%s = %v is below its minimum %v", p.Name, f, *p.Min)
			}
			if p.Max != nil && f > *p.Max {
				return recipe.Setting{}, fmt.Errorf("%s = %v is above its maximum %v", p.Name, f, *p.Max)
			}
			nums = append(nums, f)
		}
		if len(nums) == 1 {
			return recipe.Scalar(nums[0]), nil
		}
		return recipe.Setting{Gradient: nums}, nil
	case "bool":
		switch strings.ToLower(text) {
		case "true", "yes", "on":
			return recipe.Scalar(true), nil
		case "false", "no", "off":
			return recipe.Scalar(false), nil
		}
		return recipe.Setting{}, fmt.Errorf("%q is not true or false", text)
	case "string":
		if len(p.Choices) > 0 {
			for _, c := range p.Choices {
				if c == text {
					return recipe.Scalar(text), nil
				}
			}
			return recipe.Setting{}, fmt.Errorf("%q is not one of %s", text, strings.Join(p.Choices, ", "))
		}
		return recipe.Scalar(text), nil
	case "string list":
		var items []string
		for _, part := range strings.Split(text, ",") {
			if s := strings.TrimSpace(part); s != "" {
				items = append(items, s)
			}
		}
		return recipe.Setting{Strings: items}, nil
	}
	return recipe.Setting{}, fmt.Errorf("this parameter is set in the recipe editor")
}

// settingText writes a setting back as form text, or ok=false when the form cannot
// show it (filters) and the recipe editor must be used.
func settingText(s recipe.Setting) (string, bool) {
	switch {
	case s.Scalar != nil:
		if _, isMap := s.Scalar.(map[string]any); isMap {
			return "", false
		}
		return fmt.Sprint(s.Scalar), true
	case s.Gradient != nil:
		parts := make([]string, len(s.Gradient))
		for i, g := range s.Gradient {
			parts[i] = strconv.FormatFloat(g, 'g', -1, 64)
		}
		return strings.Join(parts, ", "), true
	case s.Strings != nil:
		return strings.Join(s.Strings, ", "), true
	}
	return "", false
}

// ToRecipe builds the recipe the form describes. Fields with errors are reported and
// left out.
func (f Form) ToRecipe(method *info.Method) (*recipe.Recipe, map[string]string) {
	errs := map[string]string{}
	r := &recipe.Recipe{MergeMethod: f.Method, Parameters: map[string]recipe.Setting{},
		Ladle: recipe.Options{TrimScope: recipe.DefaultTrimScope, RescaleMode: recipe.DefaultRescaleMod}}
	takesBase := method != nil && (method.NeedsBase || method.OptionalBase)
	if takesBase {
		r.BaseModel = f.Base
	}
	params := map[string]info.Param{}
	if method != nil {
		for _, p := range method.Params {
			params[p.Name] = p
		}
	}
	set := func(dst map[string]recipe.Setting, key string, p info.Param, text string) {
		if strings.TrimSpace(text) == "" {
			return
		}
		s, err := parseValue(p, text)
		if err != nil {
			errs[key] = err.Error()
			return
		}
		dst[p.Name] = s
	}
	for _, name := range slices.Sorted(maps.Keys(f.Global)) {
		p, ok := params[name]
		if !ok {
			continue
		}
		if p.Ladle {
			applyLadle(&r.Ladle, p, f.Global[name], errs)
			continue
		}
		set(r.Parameters, "param-"+name, p, f.Global[name])
	}
	for _, m := range f.Models {
		if takesBase && m == f.Base {
			continue
		}
		entry := recipe.Model{Path: m, Parameters: map[string]recipe.Setting{}}
		for _, name := range slices.Sorted(maps.Keys(f.PerModel[m])) {
			if p, ok := params[name]; ok && p.PerModel {
				set(entry.Parameters, "param-"+m+"-"+name, p, f.PerModel[m][name])
			}
		}
		r.Models = append(r.Models, entry)
	}
	if s := strings.TrimSpace(f.Seed); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			errs["seed"] = fmt.Sprintf("%q is not a whole number from 0 to 2^64-1", s)
		} else {
			r.Ladle.Seed, r.Ladle.SeedSet = seed, true
		}
	}
	return r, errs
}

func applyLadle(o *recipe.Options, p info.Param, text string, errs map[string]string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	s, err := parseValue(p, text)
	if err != nil {
		errs["param-"+p.Name] = err.Error()
		return
	}
	switch p.Name {
	case "trim_scope":
		o.TrimScope = s.Scalar.(string)
	case "rescale_mode":
		o.RescaleMode = s.Scalar.(string)
	case "sparse":
		if v := s.Scalar.(string); v == "require" {
			o.Sparse = v
		}
	case "allow_nonfinite":
		o.AllowNonFinite = s.Scalar.(bool)
	}
}

// FromRecipe fills a form from a recipe (an imported or hand-edited one). ok is false
// when the recipe uses something the form cannot show (filters, object values); the
// recipe text then stays authoritative.
func FromRecipe(r *recipe.Recipe) (f Form, ok bool) {
	ok = true
	f = Form{Method: r.MergeMethod, Base: r.BaseModel, Global: map[string]string{}, PerModel: map[string]map[string]string{}}
	for name, s := range r.Parameters {
		text, shown := settingText(s)
		ok = ok && shown
		f.Global[name] = text
	}
	o := r.Ladle
	if o.TrimScope != "" && o.TrimScope != recipe.DefaultTrimScope {
		f.Global["trim_scope"] = o.TrimScope
	}
	if o.RescaleMode != "" && o.RescaleMode != recipe.DefaultRescaleMod {
		f.Global["rescale_mode"] = o.RescaleMode
	}
	if o.Sparse != "" {
		f.Global["sparse"] = o.Sparse
	}
	if o.AllowNonFinite {
		f.Global["allow_nonfinite"] = "true"
	}
	if o.SeedSet {
		f.Seed = strconv.FormatUint(o.Seed, 10)
	}
	for _, m := range r.Models {
		if m.Path == r.BaseModel && r.BaseModel != "" {
			continue
		}
		f.Models = append(f.Models, m.Path)
		f.PerModel[m.Path] = map[string]string{}
		for name, s := range m.Parameters {
			text, shown := settingText(s)
			ok = ok && shown
			f.PerModel[m.Path][name] = text
		}
	}
	if r.BaseModel != "" && !slices.Contains(f.Models, r.BaseModel) {
		f.Models = append([]string{r.BaseModel}, f.Models...)
	}
	return f, ok
}
