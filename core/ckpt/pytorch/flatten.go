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
//
// A pickle refers to a container in two bytes however large it is, so a
// small pickle can name a container a billion times over (three nested
// lists of 1,000 references each). Two things keep the walk linear in the
// pickle: a container walked whole without naming a tensor is not walked
// again, and every item visited and every name made is charged to the
// pickle's budget, so what references repeat is refused once it outgrows
// the file.
type flattener struct {
	out      []named
	seen     map[string]bool
	distinct map[*tensorObj]bool // the tensors named, for messages
	active   map[any]bool        // containers being walked, to cut reference cycles
	empty    map[any]bool        // containers that hold no tensor: walked once, skipped after
	cuts     int                 // reference cycles cut so far
	budget   *budget
}

// Estimated bytes the flattener spends: a container walked (its entries in
// active and empty), an item visited (a dict's items are copied to be
// walked), and a name made (the name, its entry here, and the Info and
// location the Source keeps for it), beyond the name's length.
const (
	costWalk  = 128
	costVisit = 64
	costName  = 256
)

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

func newFlattener(b *budget) *flattener {
	return &flattener{
		seen:     map[string]bool{},
		distinct: map[*tensorObj]bool{},
		active:   map[any]bool{},
		empty:    map[any]bool{},
		budget:   b,
	}
}

func (f *flattener) charge(n int64) error {
	if !f.budget.spend(n) {
		return f.budget.refuse(fmt.Sprintf("walking its containers (so far %d names for %d distinct tensors)", len(f.out), len(f.distinct)))
	}
	return nil
}

// flatten names every tensor in v; a bare tensor is named "tensor".
func (f *flattener) flatten(v any) error {
	if t, ok := v.(*tensorObj); ok {
		return f.add("tensor", t)
	}
	return f.walk("", v, 0)
}

func (f *flattener) add(name string, t *tensorObj) error {
	if err := f.charge(costName + int64(len(name))); err != nil {
		return err
	}
	if f.seen[name] {
		return fmt.Errorf("two tensors are named %q", shortName(name))
	}
	f.seen[name] = true
	f.distinct[t] = true
	f.out = append(f.out, named{name, t})
	return nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// container walks the container c with walk, unless it is known to hold no
// tensor or is being walked already (a reference cycle: everything under it
// is being named). A walk that names nothing and cuts no cycle marks c empty.
func (f *flattener) container(c any, depth int, walk func() error) error {
	if f.empty[c] {
		return nil
	}
	if depth > maxDepth {
		return fmt.Errorf("containers nested more than %d deep", maxDepth)
	}
	if f.active[c] {
		f.cuts++
		return nil
	}
	if err := f.charge(costWalk); err != nil {
		return err
	}
	f.active[c] = true
	names, cuts := len(f.out), f.cuts
	err := walk()
	delete(f.active, c)
	if err == nil && len(f.out) == names && f.cuts == cuts {
		f.empty[c] = true
	}
	return err
}

// holdsTensors reports whether v may hold a tensor: a tensor, or a container
// not yet known to be empty. Anything else (numbers, strings, None, inert
// objects) holds none and is not worth a name.
func (f *flattener) holdsTensors(v any) bool {
	switch v.(type) {
	case *tensorObj:
		return true
	case *types.Tuple, *types.List, *types.Dict, *types.OrderedDict, *pyObject:
		return !f.empty[v]
	}
	return false
}

// walk names the tensors under v, a value found at prefix.
func (f *flattener) walk(prefix string, v any, depth int) error {
	switch x := v.(type) {
	case *tensorObj:
		return f.add(prefix, x)
	case *types.Tuple, *types.List:
		items, _ := sequence(x)
		return f.walkList(prefix, v, items, depth)
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
			return f.walkList(prefix, x, x.List, depth)
		}
	}
	return nil
}

func (f *flattener) walkList(prefix string, v any, items []any, depth int) error {
	return f.container(v, depth, func() error {
		if err := f.charge(costVisit * int64(len(items))); err != nil {
			return err
		}
		for i, item := range items {
			if !f.holdsTensors(item) {
				continue
			}
			if err := f.walk(join(prefix, strconv.Itoa(i)), item, depth+1); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *flattener) walkDict(prefix string, v any, depth int) error {
	return f.container(v, depth, func() error {
		items, _ := dictItems(v)
		if err := f.charge(costVisit * int64(len(items))); err != nil {
			return err
		}
		for _, e := range items {
			if !f.holdsTensors(e.Value) {
				continue
			}
			name, ok := keyName(e.Key)
			if !ok {
				has, err := f.hasTensor(e.Value)
				if err != nil {
					return err
				}
				if has {
					return fmt.Errorf("a tensor under a dict key that is %s, not a string", describe(e.Key))
				}
				continue
			}
			if err := f.walk(join(prefix, name), e.Value, depth+1); err != nil {
				return err
			}
		}
		return nil
	})
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
func (f *flattener) hasTensor(v any) (bool, error) {
	if _, ok := v.(*tensorObj); ok {
		return true, nil
	}
	if items, ok := dictItems(v); ok {
		if err := f.charge(costVisit * int64(len(items))); err != nil {
			return false, err
		}
		for _, e := range items {
			if _, ok := e.Value.(*tensorObj); ok {
				return true, nil
			}
		}
	}
	return false, nil
}

// walkModule names a module's tensors as nn.Module.state_dict does: its
// parameters, then its persistent buffers, then each child module's, skipping
// None entries.
func (f *flattener) walkModule(prefix string, m *pyObject, depth int) error {
	return f.container(m, depth, func() error { return f.walkModuleOnce(prefix, m, depth) })
}

func (f *flattener) walkModuleOnce(prefix string, m *pyObject, depth int) error {
	nonPersistent, err := f.stringSet(attrOrNil(m, "_non_persistent_buffers_set"))
	if err != nil {
		return err
	}
	for _, attr := range []string{"_parameters", "_buffers"} {
		v, ok := m.attr(attr)
		if !ok || v == nil {
			continue
		}
		items, ok := dictItems(v)
		if !ok {
			return fmt.Errorf("module %s: %s is %s, not a dict", moduleName(prefix), attr, describe(v))
		}
		if err := f.charge(costVisit * int64(len(items))); err != nil {
			return err
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
				return fmt.Errorf("module %s: %s[%q] is %s, not a tensor", moduleName(prefix), attr, shortName(name), describe(e.Value))
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
	if err := f.charge(costVisit * int64(len(items))); err != nil {
		return err
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
			return fmt.Errorf("module %s: child %q is %s, not a module", moduleName(prefix), shortName(name), describe(e.Value))
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
	return strconv.Quote(shortName(prefix))
}

func attrOrNil(o *pyObject, name string) any {
	v, _ := o.attr(name)
	return v
}

// stringSet reads a pickled set of strings: set([...]) as protocol 2 writes
// it, or the set types of protocol 4.
func (f *flattener) stringSet(v any) (map[string]bool, error) {
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
	if err := f.charge(costVisit * int64(len(items))); err != nil {
		return nil, err
	}
	for _, it := range items {
		if str, ok := it.(string); ok {
			out[str] = true
		}
	}
	return out, nil
}
