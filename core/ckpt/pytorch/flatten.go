package pytorch

import (
	"fmt"
	"strconv"

	"github.com/nlpodyssey/gopickle/types"
)

// maxDepth bounds how deeply nested containers are followed.
const maxDepth = 64

// stateDictKeys are the keys under which training checkpoints keep the model's
// weights, in the order they are tried.
var stateDictKeys = []string{"state_dict", "model_state_dict", "model"}

// named is one tensor of the state dict with its name.
type named struct {
	name string
	t    *tensorObj
}

// flattener turns the unpickled object into named tensors, in the order a
// Python program iterating the state dict would see them.
type flattener struct {
	out    []named
	seen   map[string]bool
	active map[any]bool // containers being walked, to cut reference cycles
	budget int          // containers left to visit, against exponential sharing
}

// kv is one dict entry.
type kv struct {
	Key, Value any
}

// dictItems returns the entries of a dict-like value in insertion order. A
// plain dict's repeated key keeps its first position and its last value, as in
// Python.
func dictItems(v any) ([]kv, bool) {
	switch d := v.(type) {
	case *types.OrderedDict:
		out := make([]kv, 0, d.Len())
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			out = append(out, kv{entry.Key, entry.Value})
		}
		return out, true
	case *types.Dict:
		out := make([]kv, 0, d.Len())
		index := map[any]int{}
		for _, e := range *d {
			if hashable(e.Key) {
				if i, ok := index[e.Key]; ok {
					out[i].Value = e.Value
					continue
				}
				index[e.Key] = len(out)
			}
			out = append(out, kv{e.Key, e.Value})
		}
		return out, true
	case *pyObject:
		if d.Items != nil {
			return dictItems(d.Items)
		}
	}
	return nil, false
}

// isModule reports whether v is a pickled torch.nn.Module: an object whose
// __dict__ has the module bookkeeping attributes.
func isModule(v any) (*pyObject, bool) {
	o, ok := v.(*pyObject)
	if !ok || o.Dict == nil {
		return nil, false
	}
	_, p := o.attr("_parameters")
	_, m := o.attr("_modules")
	return o, p || m
}

// selectRoot finds the state dict inside what the pickle holds: a training
// checkpoint keeps it under one of stateDictKeys; anything else is flattened
// whole.
func selectRoot(root any) any {
	items, ok := dictItems(root)
	if !ok {
		return root
	}
	for _, e := range items {
		if _, isTensor := e.Value.(*tensorObj); isTensor {
			return root // a state dict itself
		}
	}
	for _, key := range stateDictKeys {
		for _, e := range items {
			if e.Key != key {
				continue
			}
			if _, ok := dictItems(e.Value); ok {
				return e.Value
			}
			if _, ok := isModule(e.Value); ok {
				return e.Value
			}
		}
	}
	return root
}

func newFlattener(pickleLen int) *flattener {
	return &flattener{
		seen:   map[string]bool{},
		active: map[any]bool{},
		budget: 2*pickleLen + 4096,
	}
}

// flatten names every tensor in v; a bare tensor is named "tensor".
func (f *flattener) flatten(v any) error {
	if t, ok := v.(*tensorObj); ok {
		return f.add("tensor", t)
	}
	return f.walk("", v, 0)
}

func (f *flattener) add(name string, t *tensorObj) error {
	if f.seen[name] {
		return fmt.Errorf("two tensors are named %q", name)
	}
	f.seen[name] = true
	f.out = append(f.out, named{name, t})
	return nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// enter guards one container visit against cycles, depth and sharing blow-ups.
// It reports false for a container already being walked (a cycle: everything
// under it is already being named).
func (f *flattener) enter(c any, depth int) (bool, error) {
	if depth > maxDepth {
		return false, fmt.Errorf("containers nested more than %d deep", maxDepth)
	}
	f.budget--
	if f.budget < 0 {
		return false, fmt.Errorf("the pickle's containers share each other too much to be named")
	}
	if f.active[c] {
		return false, nil
	}
	f.active[c] = true
	return true, nil
}

// walk names the tensors under v, a value found at prefix.
func (f *flattener) walk(prefix string, v any, depth int) error {
	switch x := v.(type) {
	case *tensorObj:
		return f.add(prefix, x)
	case *types.Tuple, *types.List:
		items, _ := sequence(x)
		ok, err := f.enter(v, depth)
		if !ok {
			return err
		}
		defer delete(f.active, v)
		for i, item := range items {
			if err := f.walk(join(prefix, strconv.Itoa(i)), item, depth+1); err != nil {
				return err
			}
		}
		return nil
	case *types.Dict, *types.OrderedDict:
		return f.walkDict(prefix, v, depth)
	case *pyObject:
		if m, ok := isModule(x); ok {
			return f.walkModule(prefix, m, depth)
		}
		if x.Items != nil {
			return f.walkDict(prefix, x, depth)
		}
		if len(x.List) > 0 {
			ok, err := f.enter(v, depth)
			if !ok {
				return err
			}
			defer delete(f.active, v)
			for i, item := range x.List {
				if err := f.walk(join(prefix, strconv.Itoa(i)), item, depth+1); err != nil {
					return err
				}
			}
		}
	}
	// Anything else (numbers, strings, None, inert objects) holds no tensor.
	return nil
}

func (f *flattener) walkDict(prefix string, v any, depth int) error {
	ok, err := f.enter(v, depth)
	if !ok {
		return err
	}
	defer delete(f.active, v)
	items, _ := dictItems(v)
	for _, e := range items {
		name, ok := keyName(e.Key)
		if !ok {
			if hasTensor(e.Value) {
				return fmt.Errorf("a tensor under a dict key that is %s, not a string", describe(e.Key))
			}
			continue
		}
		if err := f.walk(join(prefix, name), e.Value, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// keyName turns a dict key into a name component; optimizer states use ints.
func keyName(k any) (string, bool) {
	switch x := k.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	}
	return "", false
}

// hasTensor reports whether v is a tensor or a container directly holding one.
func hasTensor(v any) bool {
	if _, ok := v.(*tensorObj); ok {
		return true
	}
	if items, ok := dictItems(v); ok {
		for _, e := range items {
			if _, ok := e.Value.(*tensorObj); ok {
				return true
			}
		}
	}
	return false
}

// walkModule names a module's tensors as nn.Module.state_dict does: its
// parameters, then its persistent buffers, then each child module's, skipping
// None entries.
func (f *flattener) walkModule(prefix string, m *pyObject, depth int) error {
	ok, err := f.enter(m, depth)
	if !ok {
		return err
	}
	defer delete(f.active, m)
	nonPersistent := stringSet(attrOrNil(m, "_non_persistent_buffers_set"))
	for _, attr := range []string{"_parameters", "_buffers"} {
		v, ok := m.attr(attr)
		if !ok || v == nil {
			continue
		}
		items, ok := dictItems(v)
		if !ok {
			return fmt.Errorf("module %s: %s is %s, not a dict", moduleName(prefix), attr, describe(v))
		}
		for _, e := range items {
			name, ok := e.Key.(string)
			if !ok {
				return fmt.Errorf("module %s: %s key is %s", moduleName(prefix), attr, describe(e.Key))
			}
			if e.Value == nil || (attr == "_buffers" && nonPersistent[name]) {
				continue
			}
			t, ok := e.Value.(*tensorObj)
			if !ok {
				return fmt.Errorf("module %s: %s[%q] is %s, not a tensor", moduleName(prefix), attr, name, describe(e.Value))
			}
			if err := f.add(join(prefix, name), t); err != nil {
				return err
			}
		}
	}
	v, ok := m.attr("_modules")
	if !ok || v == nil {
		return nil
	}
	items, ok := dictItems(v)
	if !ok {
		return fmt.Errorf("module %s: _modules is %s, not a dict", moduleName(prefix), describe(v))
	}
	for _, e := range items {
		name, ok := e.Key.(string)
		if !ok {
			return fmt.Errorf("module %s: _modules key is %s", moduleName(prefix), describe(e.Key))
		}
		if e.Value == nil {
			continue
		}
		child, ok := isModule(e.Value)
		if !ok {
			return fmt.Errorf("module %s: child %q is %s, not a module", moduleName(prefix), name, describe(e.Value))
		}
		if err := f.walkModule(join(prefix, name), child, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func moduleName(prefix string) string {
	if prefix == "" {
		return "(root)"
	}
	return strconv.Quote(prefix)
}

func attrOrNil(o *pyObject, name string) any {
	v, _ := o.attr(name)
	return v
}

// stringSet reads a pickled set of strings: set([...]) as protocol 2 writes
// it, or the set types of protocol 4.
func stringSet(v any) map[string]bool {
	out := map[string]bool{}
	var items []any
	switch s := v.(type) {
	case *types.Set:
		for k := range *s {
			items = append(items, k)
		}
	case *types.FrozenSet:
		for k := range *s {
			items = append(items, k)
		}
	case *pyObject:
		if len(s.Args) == 1 {
			items, _ = sequence(s.Args[0])
		}
	}
	for _, it := range items {
		if str, ok := it.(string); ok {
			out[str] = true
		}
	}
	return out
}
