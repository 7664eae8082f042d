package recipe

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"ladle/core/recipe/spec"
)

// Error is a mistake in a recipe, with the line it is on when known.
type Error struct {
	File string // the recipe file, "" when parsed from memory
	Line int    // 1-based; 0 when unknown
	Path string // where in the recipe, e.g. "models[1].parameters.density"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// mergekit keys that are accepted and ignored: they configure tokenizers and chat
// templates, which a tensor merge of local checkpoints has no use for.
var ignoredKeys = map[string]bool{"tokenizer_source": true, "tokenizer": true, "chat_template": true}

var topKeys = []string{"merge_method", "base_model", "models", "parameters", "dtype", "out_dtype", "ladle", "slices", "modules", "tokenizer_source", "tokenizer", "chat_template"}

// Parse reads a recipe in mergekit's YAML (JSON is YAML too). file names the recipe
// in errors; dir is the folder relative model paths resolve against.
func Parse(data []byte, file, dir string) (*Recipe, error) {
	p := &parser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: file, Msg: "not valid YAML: " + syntaxError(data, err)}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "the recipe is empty; it needs at least merge_method and models"}
	}
	root, err := p.expandAliases(doc.Content[0])
	if err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errAt(root, "", "a recipe is a mapping of keys (merge_method, models, ...), not a %s", kindName(root))
	}
	r := &Recipe{Dir: dir, File: file, Parameters: map[string]Setting{}, Ladle: Options{TrimScope: DefaultTrimScope, RescaleMode: DefaultRescaleMod}}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if seen[key] {
			return nil, p.errAt(k, key, "the key appears twice")
		}
		seen[key] = true
		var err error
		switch key {
		case "merge_method":
			r.MergeMethod, err = p.str(v, key)
		case "base_model":
			r.BaseModel, err = p.modelRef(v, key)
		case "models":
			r.Models, err = p.models(v)
		case "parameters":
			r.Parameters, err = p.params(v, key)
		case "dtype":
			r.DType, err = p.str(v, key)
		case "out_dtype":
			r.OutDType, err = p.str(v, key)
		case "ladle":
			r.Ladle, err = p.ladle(v)
		case "slices":
			r.Slices, err = p.slices(v)
		case "modules":
			err = p.errAt(k, key, "mergekit's modules (separate slices per module of a multi-module model) are not supported by Ladle; use top-level `slices`")
		default:
			if ignoredKeys[key] {
				r.Ignored = append(r.Ignored, key)
				continue
			}
			err = p.errAt(k, key, "unknown key%s", didYouMean(key, topKeys))
		}
		if err != nil {
			return nil, err
		}
	}
	if r.MergeMethod == "" {
		return nil, &Error{File: file, Path: "merge_method", Msg: "missing: say which method merges the models (for example merge_method: linear)"}
	}
	if len(r.Models) > 0 && len(r.Slices) > 0 {
		return nil, &Error{File: file, Path: "slices", Msg: "a recipe lists either whole `models` or layer ranges under `slices`, not both (as in mergekit)"}
	}
	if len(r.Models) == 0 && len(r.Slices) == 0 {
		return nil, &Error{File: file, Path: "models", Msg: spec.MsgNoModels}
	}
	return r, nil
}

type parser struct{ file string }

func (p *parser) errAt(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: p.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar " + strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

func (p *parser) str(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.errAt(n, path, "expected a string, found a %s", kindName(n))
	}
	return n.Value, nil
}

// modelRef accepts a path (BASE+ADAPTER_DIR for a base with a PEFT LoRA adapter), or
// mergekit's mapping form {model: path} / {model: {path: p}}, with {lora: {path: d}}
// beside it for an adapter, which becomes p+d.
func (p *parser) modelRef(n *yaml.Node, path string) (string, error) {
	if n.Kind == yaml.MappingNode {
		model, adapter := "", ""
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			var err error
			switch k {
			case "model", "path":
				model, err = p.modelRef(n.Content[i+1], path+"."+k)
			case "lora":
				adapter, err = p.modelRef(n.Content[i+1], path+".lora")
			}
			if err != nil {
				return "", err
			}
		}
		if model == "" {
			return "", p.errAt(n, path, "expected a model path")
		}
		if adapter != "" {
			return model + "+" + adapter, nil
		}
		return model, nil
	}
	s, err := p.str(n, path)
	if err == nil && s == "" {
		err = p.errAt(n, path, "the model path is empty")
	}
	return s, err
}

func (p *parser) models(n *yaml.Node) ([]Model, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errAt(n, "models", "expected a list of {model: PATH, parameters: {...}}, found a %s", kindName(n))
	}
	var out []Model
	for i, item := range n.Content {
		path := fmt.Sprintf("models[%d]", i)
		if item.Kind == yaml.ScalarNode { // a bare path is a convenience mergekit lacks
			s, err := p.modelRef(item, path)
			if err != nil {
				return nil, err
			}
			out = append(out, Model{Path: s, Parameters: map[string]Setting{}})
			continue
		}
		if item.Kind != yaml.MappingNode {
			return nil, p.errAt(item, path, "expected {model: PATH, parameters: {...}}, found a %s", kindName(item))
		}
		m := Model{Parameters: map[string]Setting{}}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			var err error
			switch k.Value {
			case "model":
				m.Path, err = p.modelRef(v, path+".model")
			case "parameters":
				m.Parameters, err = p.params(v, path+".parameters")
			default:
				err = p.errAt(k, path+"."+k.Value, "unknown key%s", didYouMean(k.Value, []string{"model", "parameters"}))
			}
			if err != nil {
				return nil, err
			}
		}
		if m.Path == "" {
			return nil, p.errAt(item, path, "the entry has no `model:` path")
		}
		out = append(out, m)
	}
	return out, nil
}

// slices reads mergekit's `slices: [{sources: [{model, layer_range: [a, b], parameters}], parameters}]`.
func (p *parser) slices(n *yaml.Node) ([]Slice, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, p.errAt(n, "slices", "expected a list of {sources: [{model: PATH, layer_range: [FROM, TO]}, ...]}")
	}
	var out []Slice
	for i, item := range n.Content {
		path := fmt.Sprintf("slices[%d]", i)
		if item.Kind != yaml.MappingNode {
			return nil, p.errAt(item, path, "expected {sources: [...], parameters: {...}}, found a %s", kindName(item))
		}
		sl := Slice{Parameters: map[string]Setting{}}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			var err error
			switch k.Value {
			case "sources":
				sl.Sources, err = p.sliceSources(v, path+".sources")
			case "parameters":
				sl.Parameters, err = p.params(v, path+".parameters")
			default:
				err = p.errAt(k, path+"."+k.Value, "unknown key%s", didYouMean(k.Value, []string{"sources", "parameters"}))
			}
			if err != nil {
				return nil, err
			}
		}
		if len(sl.Sources) == 0 {
			return nil, p.errAt(item, path, "the slice has no sources")
		}
		out = append(out, sl)
	}
	return out, nil
}

func (p *parser) sliceSources(n *yaml.Node, path string) ([]SliceSource, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, p.errAt(n, path, "expected a list of {model: PATH, layer_range: [FROM, TO]}, found a %s", kindName(n))
	}
	var out []SliceSource
	for i, item := range n.Content {
		where := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.MappingNode {
			return nil, p.errAt(item, where, "expected {model: PATH, layer_range: [FROM, TO]}, found a %s", kindName(item))
		}
		src := SliceSource{Parameters: map[string]Setting{}, From: -1}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			var err error
			switch k.Value {
			case "model":
				src.Model, err = p.modelRef(v, where+".model")
			case "layer_range":
				if v.Kind != yaml.SequenceNode || len(v.Content) != 2 {
					return nil, p.errAt(v, where+".layer_range", "expected [FROM, TO], two layer numbers (TO excluded)")
				}
				var ab [2]int
				for e, c := range v.Content {
					x, perr := strconv.Atoi(c.Value)
					if c.Kind != yaml.ScalarNode || perr != nil || x < 0 {
						return nil, p.errAt(c, where+".layer_range", "expected a layer number (0 or more), found %q", c.Value)
					}
					ab[e] = x
				}
				if ab[1] <= ab[0] {
					return nil, p.errAt(v, where+".layer_range", "[%d, %d] is empty: TO (excluded) must be above FROM", ab[0], ab[1])
				}
				src.From, src.To = ab[0], ab[1]
			case "parameters":
				src.Parameters, err = p.params(v, where+".parameters")
			default:
				err = p.errAt(k, where+"."+k.Value, "unknown key%s", didYouMean(k.Value, []string{"model", "layer_range", "parameters"}))
			}
			if err != nil {
				return nil, err
			}
		}
		if src.Model == "" {
			return nil, p.errAt(item, where, "the source has no `model:` path")
		}
		if src.From < 0 {
			return nil, p.errAt(item, where, "the source has no `layer_range: [FROM, TO]`")
		}
		out = append(out, src)
	}
	return out, nil
}

func (p *parser) params(n *yaml.Node, path string) (map[string]Setting, error) {
	out := map[string]Setting{}
	if n.Tag == "!!null" {
		return out, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errAt(n, path, "expected a mapping of parameter names to values, found a %s", kindName(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := out[k.Value]; dup {
			return nil, p.errAt(k, path+"."+k.Value, "the parameter appears twice")
		}
		s, err := p.setting(v, path+"."+k.Value)
		if err != nil {
			return nil, err
		}
		out[k.Value] = s
	}
	return out, nil
}

// setting reads a scalar, a gradient list, or a list of {filter, value}.
func (p *parser) setting(n *yaml.Node, path string) (Setting, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := p.scalar(n, path)
		return Setting{Scalar: v}, err
	case yaml.MappingNode:
		if !isCond(n) { // an object-valued parameter, e.g. quantize: {levels: 16}
			var obj map[string]any
			if err := n.Decode(&obj); err != nil {
				return Setting{}, p.errAt(n, path, "%v", err)
			}
			return Setting{Scalar: normaliseNumbers(obj)}, nil
		}
		c, err := p.cond(n, path) // a single {filter, value}
		return Setting{Conds: []Cond{c}}, err
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return Setting{}, p.errAt(n, path, "an empty list has no value")
		}
		if n.Content[0].Kind == yaml.MappingNode {
			var conds []Cond
			for i, item := range n.Content {
				if item.Kind != yaml.MappingNode {
					return Setting{}, p.errAt(item, fmt.Sprintf("%s[%d]", path, i), "mix of {filter, value} entries and plain values")
				}
				c, err := p.cond(item, fmt.Sprintf("%s[%d]", path, i))
				if err != nil {
					return Setting{}, err
				}
				conds = append(conds, c)
			}
			return Setting{Conds: conds}, nil
		}
		var nums []float64
		var strs []string
		for i, item := range n.Content {
			v, err := p.scalar(item, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return Setting{}, err
			}
			switch x := v.(type) {
			case float64:
				nums = append(nums, x)
			case string:
				strs = append(strs, x)
			default:
				return Setting{}, p.errAt(item, fmt.Sprintf("%s[%d]", path, i), "a gradient holds numbers, found %v", v)
			}
		}
		if nums != nil && strs != nil {
			return Setting{}, p.errAt(n, path, "a gradient mixes numbers and strings")
		}
		if strs != nil {
			return Setting{Strings: strs}, nil
		}
		return Setting{Gradient: nums}, nil
	}
	return Setting{}, p.errAt(n, path, "expected a value, found a %s", kindName(n))
}

// isCond tells a {filter, value} condition from an object-valued parameter.
func isCond(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "filter" || k == "value" {
			return true
		}
	}
	return false
}

// normaliseNumbers turns the integers YAML decodes into float64, as scalars are.
func normaliseNumbers(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = normaliseNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normaliseNumbers(e)
		}
	}
	return v
}

func (p *parser) cond(n *yaml.Node, path string) (Cond, error) {
	var c Cond
	var hasValue bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "filter":
			if v.Tag == "!!null" {
				continue
			}
			s, err := p.str(v, path+".filter")
			if err != nil {
				return c, err
			}
			c.Filter = s
		case "value":
			s, err := p.setting(v, path+".value")
			if err != nil {
				return c, err
			}
			if len(s.Conds) > 0 {
				return c, p.errAt(v, path+".value", "a filter's value is a number, a string or a gradient, not more filters")
			}
			c.Value, hasValue = s, true
		default:
			return c, p.errAt(k, path+"."+k.Value, "unknown key in a {filter, value} entry%s", didYouMean(k.Value, []string{"filter", "value"}))
		}
	}
	if !hasValue {
		return c, p.errAt(n, path, "a {filter, value} entry needs a value")
	}
	return c, nil
}

// scalar decodes a YAML scalar to float64, bool or string. Integers become float64:
// every numeric parameter is used as a number.
func (p *parser) scalar(n *yaml.Node, path string) (any, error) {
	if n.Kind != yaml.ScalarNode {
		return nil, p.errAt(n, path, "expected a single value, found a %s", kindName(n))
	}
	switch n.Tag {
	case "!!int", "!!float":
		// YAML's own reading (0x10, 1_000, -.inf, ...). Decoding into an integer
		// first, as this once did, turned -.inf into -9.2e18.
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, p.errAt(n, path, "%q is not a number", n.Value)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, p.errAt(n, path, "%q is not a finite number", n.Value)
		}
		return f, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, p.errAt(n, path, "%q is not a boolean", n.Value)
		}
		return b, nil
	case "!!null":
		return nil, p.errAt(n, path, "the value is empty")
	}
	return n.Value, nil
}

// IsLadleKey reports whether name is a key of the recipe's `ladle:` block.
func IsLadleKey(name string) bool { return spec.IsLadleKey(name) }

func (p *parser) ladle(n *yaml.Node) (Options, error) {
	o := Options{TrimScope: DefaultTrimScope, RescaleMode: DefaultRescaleMod}
	if n.Tag == "!!null" {
		return o, nil
	}
	if n.Kind != yaml.MappingNode {
		return o, p.errAt(n, "ladle", "expected a mapping of Ladle settings (%s)", strings.Join(spec.LadleKeys, ", "))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := "ladle." + k.Value
		var err error
		switch k.Value {
		case "seed":
			var s uint64
			if err = v.Decode(&s); err != nil {
				err = p.errAt(v, path, "the seed is a whole number from 0 to 2^64-1, found %q", v.Value)
			}
			o.Seed, o.SeedSet = s, true
		case "trim_scope":
			o.TrimScope, err = p.choice(v, path, TrimScopeTensor, TrimScopeModel)
		case "rescale_mode":
			o.RescaleMode, err = p.choice(v, path, RescalePaper, RescaleL1)
		case "sparse":
			o.Sparse, err = p.choice(v, path, SparseRequire, "allow")
			if o.Sparse == "allow" {
				o.Sparse = ""
			}
		case "allow_nonfinite":
			if err = v.Decode(&o.AllowNonFinite); err != nil {
				err = p.errAt(v, path, "expected true or false, found %q", v.Value)
			}
		case "align":
			if err = v.Decode(&o.Align); err != nil {
				err = p.errAt(v, path, "expected true or false, found %q", v.Value)
			}
		case "threads":
			if err = v.Decode(&o.Threads); err != nil || o.Threads < 0 {
				err = p.errAt(v, path, "expected a number of threads (0 for one per core), found %q", v.Value)
			}
		case "eval":
			o.Eval, err = p.eval(v)
		default:
			err = p.errAt(k, path, "unknown Ladle setting%s (known: %s)", didYouMean(k.Value, spec.LadleKeys), strings.Join(spec.LadleKeys, ", "))
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

func (p *parser) choice(n *yaml.Node, path string, choices ...string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	for _, c := range choices {
		if s == c {
			return s, nil
		}
	}
	return "", p.errAt(n, path, "%q is not one of %s%s", s, strings.Join(choices, ", "), didYouMean(s, choices))
}

func (p *parser) eval(n *yaml.Node) (*EvalOptions, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errAt(n, "ladle.eval", "expected {arch: ARCH.json, data: DATA.safetensors, split: NAME}")
	}
	e := &EvalOptions{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := "ladle.eval." + k.Value
		var err error
		switch k.Value {
		case "arch":
			e.Arch, err = p.str(v, path)
		case "data":
			e.Data, err = p.str(v, path)
		case "split":
			e.Split, err = p.str(v, path)
		default:
			err = p.errAt(k, path, "unknown key%s", didYouMean(k.Value, []string{"arch", "data", "split"}))
		}
		if err != nil {
			return nil, err
		}
	}
	if e.Data == "" {
		return nil, p.errAt(n, "ladle.eval.data", "missing: the held-out data to evaluate on")
	}
	return e, nil
}

func didYouMean(name string, known []string) string { return spec.DidYouMean(name, known) }

// DidYouMean is didYouMean for other packages' checks of names against a list.
func DidYouMean(name string, known []string) string { return spec.DidYouMean(name, known) }
