package pytorch

import (
	"fmt"
	"reflect"

	"github.com/nlpodyssey/gopickle/types"

	"ladle/core/dtype"
)

// The unpickler never imports or runs anything: every global a pickle names
// resolves to one of the inert values below. torch's rebuild functions become
// Go functions that only record what the tensor would be; everything else
// becomes a pyClass, whose instances just keep their arguments and state.

// pyClass is any class or function the reader has no special meaning for.
// Calling it (REDUCE, NEWOBJ, INST, OBJ) makes a pyObject.
type pyClass struct {
	Module, Name string
	budget       *budget // of the pickle that named it
}

func (c *pyClass) String() string { return c.Module + "." + c.Name }

func (c *pyClass) Call(args ...any) (any, error)  { return &pyObject{Class: c, Args: args}, nil }
func (c *pyClass) PyNew(args ...any) (any, error) { return &pyObject{Class: c, Args: args}, nil }

// pyObject is an inert instance: the arguments it was built with, the
// attributes BUILD gave it (its __dict__), and the items SETITEMS/APPENDS
// added, for subclasses of dict and list.
type pyObject struct {
	Class *pyClass
	Args  []any
	Dict  *types.OrderedDict // __dict__; nil until BUILD sets one
	State any                // a BUILD state that is not a dict
	Items *types.OrderedDict // dict-subclass items; nil if none
	List  []any              // list-subclass items
}

func (o *pyObject) attrs() *types.OrderedDict {
	if o.Dict == nil {
		o.Dict = types.NewOrderedDict()
	}
	return o.Dict
}

// PySetState handles BUILD: a dict state (or the dict half of a
// (dict, slots) pair) becomes attributes; anything else is kept as is.
func (o *pyObject) PySetState(state any) error {
	if t, ok := state.(*types.Tuple); ok && t.Len() == 2 {
		if err := o.setAttrs(t.Get(0)); err != nil {
			return err
		}
		return o.setAttrs(t.Get(1))
	}
	return o.setAttrs(state)
}

func (o *pyObject) setAttrs(state any) error {
	if state == nil {
		return nil
	}
	if kvs, ok := dictItems(state); ok {
		// A pickle can BUILD many objects from one shared state dict.
		if err := o.Class.budget.charge(costPair*int64(len(kvs)), "unpickling"); err != nil {
			return err
		}
		d := o.attrs()
		for _, kv := range kvs {
			if !hashable(kv.Key) {
				return fmt.Errorf("attribute name is %s", describe(kv.Key))
			}
			d.Set(kv.Key, kv.Value)
		}
		return nil
	}
	o.State = state
	return nil
}

// Set makes dict subclasses (SETITEM, SETITEMS) work.
func (o *pyObject) Set(key, value any) {
	if o.Items == nil {
		o.Items = types.NewOrderedDict()
	}
	o.Items.Set(key, value) // panics on an unhashable key; unpickle recovers
}

// Append makes list subclasses (APPEND, APPENDS) work.
func (o *pyObject) Append(v any) { o.List = append(o.List, v) }

// Call refuses to call an instance: that would run its class's __call__.
func (o *pyObject) Call(...any) (any, error) {
	return nil, fmt.Errorf("%w: the pickle calls an instance of %s; Ladle runs no code from a pickle", errPickle, o.Class)
}

func (o *pyObject) attr(name string) (any, bool) {
	if o.Dict == nil {
		return nil, false
	}
	return o.Dict.Get(name)
}

// odictClass is collections.OrderedDict, which unlike gopickle's own accepts
// OrderedDict(iterable_of_pairs) and OrderedDict(mapping).
type odictClass struct {
	budget *budget // of the pickle that named it
}

func (c *odictClass) PyNew(args ...any) (any, error) { return c.Call(args...) }

func (c *odictClass) Call(args ...any) (any, error) {
	d := types.NewOrderedDict()
	if len(args) == 0 {
		return d, nil
	}
	if len(args) > 1 {
		return nil, fmt.Errorf("OrderedDict called with %d arguments", len(args))
	}
	// A pickle can build many dicts from one shared argument.
	n := 0
	if kvs, ok := dictItems(args[0]); ok {
		n = len(kvs)
	} else if seq, ok := sequence(args[0]); ok {
		n = len(seq)
	}
	if err := c.budget.charge(costPair*int64(n), "unpickling"); err != nil {
		return nil, err
	}
	if kvs, ok := dictItems(args[0]); ok {
		for _, kv := range kvs {
			if !hashable(kv.Key) {
				return nil, fmt.Errorf("OrderedDict key is %s", describe(kv.Key))
			}
			d.Set(kv.Key, kv.Value)
		}
		return d, nil
	}
	seq, ok := sequence(args[0])
	if !ok {
		return nil, fmt.Errorf("OrderedDict called with %s", describe(args[0]))
	}
	for _, p := range seq {
		pair, ok := sequence(p)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("OrderedDict item is not a pair")
		}
		if !hashable(pair[0]) {
			return nil, fmt.Errorf("OrderedDict key is %s", describe(pair[0]))
		}
		d.Set(pair[0], pair[1])
	}
	return d, nil
}

// storageClass is torch.FloatStorage and friends: the element type of a
// serialised storage.
type storageClass struct {
	Name string // e.g. "torch.FloatStorage"
	DT   dtype.DType
	// Size is the element size in bytes (1 for UntypedStorage, whose counts are bytes).
	Size int
}

// storageDTypes maps torch's storage class names to element types.
var storageDTypes = map[string]dtype.DType{
	"FloatStorage":    dtype.F32,
	"DoubleStorage":   dtype.F64,
	"HalfStorage":     dtype.F16,
	"BFloat16Storage": dtype.BF16,
	"LongStorage":     dtype.I64,
	"IntStorage":      dtype.I32,
	"ShortStorage":    dtype.I16,
	"CharStorage":     dtype.I8,
	"ByteStorage":     dtype.U8,
	"BoolStorage":     dtype.BOOL,
	"UntypedStorage":  dtype.U8,
}

// storageSizes gives element sizes for storage types Ladle cannot read, so that
// the legacy format, where storages follow each other, can still be walked.
var storageSizes = map[string]int{
	"ComplexFloatStorage":  8,
	"ComplexDoubleStorage": 16,
	"QInt8Storage":         1,
	"QUInt8Storage":        1,
	"QInt32Storage":        4,
	"QUInt4x2Storage":      1,
	"QUInt2x4Storage":      1,
}

// torchDType is a torch.dtype value such as torch.float32 (an argument of
// _rebuild_tensor_v3).
type torchDType struct {
	Name string
	DT   dtype.DType // Invalid for dtypes Ladle does not read
}

var torchDTypes = map[string]dtype.DType{
	"float32": dtype.F32, "float": dtype.F32,
	"float64": dtype.F64, "double": dtype.F64,
	"float16": dtype.F16, "half": dtype.F16,
	"bfloat16": dtype.BF16,
	"int64":    dtype.I64, "long": dtype.I64,
	"int32": dtype.I32, "int": dtype.I32,
	"int16": dtype.I16, "short": dtype.I16,
	"int8":          dtype.I8,
	"uint8":         dtype.U8,
	"uint16":        dtype.U16,
	"uint32":        dtype.U32,
	"uint64":        dtype.U64,
	"bool":          dtype.BOOL,
	"float8_e4m3fn": dtype.F8_E4M3,
	"float8_e5m2":   dtype.F8_E5M2,
}

var otherTorchDTypes = map[string]bool{
	"complex32": true, "complex64": true, "complex128": true, "cfloat": true, "cdouble": true, "chalf": true,
	"qint8": true, "quint8": true, "qint32": true, "quint4x2": true, "quint2x4": true,
	"float8_e4m3fnuz": true, "float8_e5m2fnuz": true, "float8_e8m0fnu": true, "float4_e2m1fn_x2": true,
}

// rebuildFunc is one of torch._utils' tensor rebuild functions.
type rebuildFunc struct {
	name string
	call func(args []any) (any, error)
}

func (f *rebuildFunc) Call(args ...any) (any, error) { return f.call(args) }

func (f *rebuildFunc) PyNew(...any) (any, error) {
	return nil, fmt.Errorf("%w: NEWOBJ on the function torch._utils.%s", errPickle, f.name)
}

// The other values the resolver or a rebuild makes cannot be called: each
// says so, naming itself, rather than leave gopickle to print it whole.

func (c *storageClass) Call(...any) (any, error) {
	return nil, fmt.Errorf("%w: the pickle calls %s; torch.save names storages by persistent id, never by calling their class", errPickle, c.Name)
}

func (c *storageClass) PyNew(args ...any) (any, error) { return c.Call(args...) }

func (d *torchDType) Call(...any) (any, error) {
	return nil, fmt.Errorf("%w: the pickle calls the dtype %s", errPickle, d.Name)
}

func (d *torchDType) PyNew(args ...any) (any, error) { return d.Call(args...) }

func (t *tensorObj) Call(...any) (any, error) {
	return nil, fmt.Errorf("%w: the pickle calls a tensor", errPickle)
}

func (v *storageView) Call(...any) (any, error) {
	return nil, fmt.Errorf("%w: the pickle calls a storage", errPickle)
}

// findClass resolves the globals a pickle names. It never fails: unknown names
// become inert classes, and only using one where a tensor is expected is an error.
func (b *builder) findClass(module, name string) (any, error) {
	switch module {
	case odictModule:
		if name == "OrderedDict" {
			return &odictClass{budget: b.budget}, nil
		}
	case "torch._utils":
		switch name {
		case "_rebuild_tensor":
			return &rebuildFunc{name, b.rebuildTensor}, nil
		case "_rebuild_tensor_v2":
			return &rebuildFunc{name, b.rebuildTensorV2}, nil
		case "_rebuild_tensor_v3":
			return &rebuildFunc{name, b.rebuildTensorV3}, nil
		case "_rebuild_parameter", "_rebuild_parameter_with_state":
			return &rebuildFunc{name, rebuildParameter}, nil
		}
		if len(name) > 9 && name[:9] == "_rebuild_" {
			return &rebuildFunc{name, unsupportedRebuild(module + "." + name)}, nil
		}
	case "torch._tensor":
		if name == "_rebuild_from_type_v2" || name == "_rebuild_from_type" {
			return &rebuildFunc{name, rebuildFromType}, nil
		}
	case "torch", "torch.cuda":
		if dt, ok := storageDTypes[name]; ok {
			return &storageClass{Name: module + "." + name, DT: dt, Size: dt.Size()}, nil
		}
		if n, ok := storageSizes[name]; ok {
			return &storageClass{Name: module + "." + name, Size: n}, nil
		}
		if module == "torch" {
			if dt, ok := torchDTypes[name]; ok {
				return &torchDType{Name: "torch." + name, DT: dt}, nil
			}
			if otherTorchDTypes[name] {
				return &torchDType{Name: "torch." + name}, nil
			}
		}
	}
	return &pyClass{Module: module, Name: name, budget: b.budget}, nil
}

// hashable reports whether v can be a Go map key, as gopickle's OrderedDict
// needs; a BINBYTES value ([]byte) cannot.
func hashable(v any) bool {
	return v == nil || reflect.TypeOf(v).Comparable()
}
