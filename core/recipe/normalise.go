package recipe

import (
	"sort"

	"ladle/core/recipe/spec"

	"go.yaml.in/yaml/v3"
)

// MetadataKey is the safetensors metadata key under which a merged checkpoint keeps
// the normalised recipe that made it.
const MetadataKey = spec.MetadataKey

func init() { spec.SetNormaliser(normaliseYAML) }

// normaliseYAML is Recipe.Normalise with the YAML library's encoder: the canonical
// text, which merged checkpoints record.
func normaliseYAML(r *Recipe) []byte {
	root := mapping()
	add(root, "merge_method", scalarNode(r.MergeMethod))
	if r.BaseModel != "" {
		add(root, "base_model", scalarNode(r.BaseModel))
	}
	models := &yaml.Node{Kind: yaml.SequenceNode}
	for _, m := range r.Models {
		entry := mapping()
		add(entry, "model", scalarNode(m.Path))
		if len(m.Parameters) > 0 {
			add(entry, "parameters", paramsNode(m.Parameters))
		}
		models.Content = append(models.Content, entry)
	}
	if len(r.Models) > 0 || len(r.Slices) == 0 {
		add(root, "models", models)
	}
	if len(r.Slices) > 0 {
		slices := &yaml.Node{Kind: yaml.SequenceNode}
		for _, sl := range r.Slices {
			entry := mapping()
			sources := &yaml.Node{Kind: yaml.SequenceNode}
			for _, src := range sl.Sources {
				se := mapping()
				add(se, "model", scalarNode(src.Model))
				add(se, "layer_range", flowList([]int{src.From, src.To}))
				if len(src.Parameters) > 0 {
					add(se, "parameters", paramsNode(src.Parameters))
				}
				sources.Content = append(sources.Content, se)
			}
			add(entry, "sources", sources)
			if len(sl.Parameters) > 0 {
				add(entry, "parameters", paramsNode(sl.Parameters))
			}
			slices.Content = append(slices.Content, entry)
		}
		add(root, "slices", slices)
	}
	if len(r.Parameters) > 0 {
		add(root, "parameters", paramsNode(r.Parameters))
	}
	if r.DType != "" {
		add(root, "dtype", scalarNode(r.DType))
	}
	if r.OutDType != "" {
		add(root, "out_dtype", scalarNode(r.OutDType))
	}
	if l := ladleNode(r.Ladle); len(l.Content) > 0 {
		add(root, "ladle", l)
	}
	out, err := yaml.Marshal(root)
	if err != nil { // only unmarshalable Go values fail, and the tree holds none
		panic("recipe: normalising: " + err.Error())
	}
	return out
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, scalarNode(key), v)
}

func scalarNode(v any) *yaml.Node {
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		panic("recipe: encoding a scalar: " + err.Error())
	}
	return n
}

func flowList[T any](xs []T) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, x := range xs {
		n.Content = append(n.Content, scalarNode(x))
	}
	return n
}

func paramsNode(ps map[string]Setting) *yaml.Node {
	names := make([]string, 0, len(ps))
	for k := range ps {
		names = append(names, k)
	}
	sort.Strings(names)
	m := mapping()
	for _, k := range names {
		add(m, k, settingNode(ps[k]))
	}
	return m
}

func settingNode(s Setting) *yaml.Node {
	switch {
	case s.Scalar != nil:
		return scalarNode(s.Scalar)
	case s.Gradient != nil:
		return flowList(s.Gradient)
	case s.Strings != nil:
		return flowList(s.Strings)
	}
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, c := range s.Conds {
		m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		if c.Filter != "" {
			add(m, "filter", scalarNode(c.Filter))
		}
		add(m, "value", settingNode(c.Value))
		list.Content = append(list.Content, m)
	}
	return list
}

func ladleNode(o Options) *yaml.Node {
	m := mapping()
	if o.SeedSet {
		add(m, "seed", scalarNode(o.Seed))
	}
	if o.TrimScope != "" && o.TrimScope != DefaultTrimScope {
		add(m, "trim_scope", scalarNode(o.TrimScope))
	}
	if o.RescaleMode != "" && o.RescaleMode != DefaultRescaleMod {
		add(m, "rescale_mode", scalarNode(o.RescaleMode))
	}
	if o.AllowNonFinite {
		add(m, "allow_nonfinite", scalarNode(true))
	}
	if o.Sparse != "" {
		add(m, "sparse", scalarNode(o.Sparse))
	}
	if o.Align {
		add(m, "align", scalarNode(true))
	}
	if o.Eval != nil {
		e := mapping()
		if o.Eval.Arch != "" {
			add(e, "arch", scalarNode(o.Eval.Arch))
		}
		add(e, "data", scalarNode(o.Eval.Data))
		if o.Eval.Split != "" {
			add(e, "split", scalarNode(o.Eval.Split))
		}
		add(m, "eval", e)
	}
	return m
}
