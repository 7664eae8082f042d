package recipe

import "go.yaml.in/yaml/v3"

// maxExpandedValues bounds what aliases may expand a recipe to. Each anchor is
// expanded once and shared, so expanding costs no more than the document, but the
// parser then walks the expanded tree, which nested aliases can make exponentially
// large (the "billion laughs"); a real recipe is thousands of values at most.
const maxExpandedValues = 1_000_000

// expander resolves YAML aliases (*name) and merge keys (<<: *name) into a plain
// tree, as PyYAML and so mergekit read them: a merge key's mapping, or list of
// mappings, supplies the keys that the mapping does not give itself, an earlier
// mapping in the list winning over a later one.
type expander struct {
	p    *parser
	done map[*yaml.Node]*yaml.Node
	size map[*yaml.Node]int // values in each expanded subtree, counting shared ones each time
}

// expandAliases returns n with every alias and merge key resolved.
func (p *parser) expandAliases(n *yaml.Node) (*yaml.Node, error) {
	e := &expander{p: p, done: map[*yaml.Node]*yaml.Node{}, size: map[*yaml.Node]int{}}
	out, err := e.expand(n, 0)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (e *expander) expand(n *yaml.Node, depth int) (*yaml.Node, error) {
	if out, ok := e.done[n]; ok {
		return out, nil
	}
	if depth > 1000 {
		return nil, e.p.errAt(n, "", "values nest more than 1000 deep")
	}
	var out *yaml.Node
	size := 1
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, e.p.errAt(n, "", "the alias *%s names no anchor", n.Value)
		}
		target, err := e.expand(n.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		out, size = target, e.size[target]
	case yaml.SequenceNode, yaml.DocumentNode:
		c := *n
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, item := range n.Content {
			x, err := e.expand(item, depth+1)
			if err != nil {
				return nil, err
			}
			c.Content[i] = x
			size += e.size[x]
		}
		out = &c
	case yaml.MappingNode:
		var err error
		if out, size, err = e.mapping(n, depth); err != nil {
			return nil, err
		}
	default:
		out = n
	}
	if size > maxExpandedValues {
		return nil, e.p.errAt(n, "", "its aliases expand to more than %d values; write the recipe out, or alias less", maxExpandedValues)
	}
	e.done[n] = out
	e.size[out] = size
	return out, nil
}

// mapping expands a mapping's values and applies its merge keys.
func (e *expander) mapping(n *yaml.Node, depth int) (*yaml.Node, int, error) {
	c := *n
	c.Content = nil
	size := 1
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !isMergeKey(k) {
			own[k.Value] = true
		}
	}
	var merged [][]*yaml.Node // key-value pairs from merge keys, in order of precedence
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		x, err := e.expand(v, depth+1)
		if err != nil {
			return nil, 0, err
		}
		if !isMergeKey(k) {
			c.Content = append(c.Content, k, x)
			size += 1 + e.size[x]
			continue
		}
		sources := []*yaml.Node{x}
		if x.Kind == yaml.SequenceNode {
			sources = x.Content
		}
		for _, m := range sources {
			if m.Kind != yaml.MappingNode {
				return nil, 0, e.p.errAt(v, "<<", "a merge key (<<) takes a mapping or a list of mappings, found a %s", kindName(m))
			}
			merged = append(merged, m.Content)
		}
	}
	taken := own
	for _, pairs := range merged {
		for j := 0; j+1 < len(pairs); j += 2 {
			k, v := pairs[j], pairs[j+1]
			if taken[k.Value] {
				continue
			}
			taken[k.Value] = true
			c.Content = append(c.Content, k, v)
			size += 1 + e.size[v]
		}
	}
	return &c, size, nil
}

// isMergeKey tells YAML's merge key, a plain <<, from a quoted "<<".
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Tag == "!!merge"
}
