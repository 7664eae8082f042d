package pytorch

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/nlpodyssey/gopickle/types"

	"ladle/core/dtype"
)

// maxDims bounds a tensor's rank; torch itself refuses more than 64 dimensions.
const maxDims = 64

// tensorObj is what a torch rebuild function returns here: a description of a
// tensor over a storage, not its data. A tensorObj whose arguments were wrong
// keeps the reason in bad, so that the error can name the tensor once the
// state dict gives it a name (and a broken tensor the state dict does not
// select, in an optimizer state say, costs nothing).
type tensorObj struct {
	view   *storageView
	dt     dtype.DType
	offset int64 // storage offset, in elements of dt
	shape  []int64
	stride []int64 // in elements of dt

	bad         error  // malformed rebuild arguments
	unsupported string // set when the tensor is of a kind Ladle cannot read
}

// storageView is a tensor's storage argument: a whole storage, or (in the
// legacy formats) a slice of one.
type storageView struct {
	st      *storage
	byteOff int64 // where the slice starts in st
	nbytes  int64 // the slice's length; -1 for "to the end of st"
}

func (b *builder) rebuildTensor(args []any) (any, error) {
	if len(args) != 4 {
		return &tensorObj{bad: fmt.Errorf("_rebuild_tensor takes 4 arguments, got %d", len(args))}, nil
	}
	return b.newTensor(args[0], args[1], args[2], args[3], nil), nil
}

func (b *builder) rebuildTensorV2(args []any) (any, error) {
	// (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
	if len(args) < 4 {
		return &tensorObj{bad: fmt.Errorf("_rebuild_tensor_v2 takes at least 4 arguments, got %d", len(args))}, nil
	}
	return b.newTensor(args[0], args[1], args[2], args[3], nil), nil
}

func (b *builder) rebuildTensorV3(args []any) (any, error) {
	// (storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
	if len(args) < 7 {
		return &tensorObj{bad: fmt.Errorf("_rebuild_tensor_v3 takes at least 7 arguments, got %d", len(args))}, nil
	}
	return b.newTensor(args[0], args[1], args[2], args[3], args[6]), nil
}

// rebuildParameter is _rebuild_parameter(data, requires_grad, backward_hooks[, state]):
// an nn.Parameter is its data.
func rebuildParameter(args []any) (any, error) {
	if len(args) < 1 {
		return &tensorObj{bad: errors.New("_rebuild_parameter without arguments")}, nil
	}
	return args[0], nil
}

// rebuildFromType is torch._tensor._rebuild_from_type_v2(func, new_type, args, state),
// used for tensor subclasses: the tensor is func(*args).
func rebuildFromType(args []any) (any, error) {
	if len(args) < 3 {
		return &tensorObj{bad: errors.New("_rebuild_from_type_v2 takes 4 arguments")}, nil
	}
	fn, ok := args[0].(*rebuildFunc)
	if !ok {
		return &tensorObj{unsupported: fmt.Sprintf("a tensor subclass rebuilt by %s", describe(args[0]))}, nil
	}
	fargs, ok := sequence(args[2])
	if !ok {
		return &tensorObj{bad: errors.New("_rebuild_from_type_v2 arguments are not a tuple")}, nil
	}
	return fn.call(fargs)
}

func unsupportedRebuild(name string) func([]any) (any, error) {
	return func([]any) (any, error) {
		return &tensorObj{unsupported: "a tensor rebuilt by " + name +
			" (quantized, sparse, nested, meta or subclass tensors are not read)"}, nil
	}
}

// newTensor checks a rebuild call's arguments. dtArg is _rebuild_tensor_v3's
// dtype, nil for the older functions, where the storage's type decides.
func (b *builder) newTensor(stArg, offArg, sizeArg, strideArg, dtArg any) *tensorObj {
	t := &tensorObj{}
	view, err := b.storageArg(stArg)
	if err != nil {
		t.bad = err
		return t
	}
	t.view = view
	cls := view.st.class
	t.dt = cls.DT
	if dtArg != nil {
		d, ok := dtArg.(*torchDType)
		if !ok {
			t.bad = fmt.Errorf("dtype argument is %s, not a torch dtype", describe(dtArg))
			return t
		}
		if !d.DT.Valid() {
			t.unsupported = "dtype " + d.Name
			return t
		}
		t.dt = d.DT
	} else if !cls.DT.Valid() {
		t.unsupported = "storage type " + cls.Name
		return t
	}
	if t.offset, err = toInt(offArg); err != nil || t.offset < 0 {
		t.bad = fmt.Errorf("storage offset is %s", describe(offArg))
		return t
	}
	if t.shape, err = ints(sizeArg); err != nil {
		t.bad = fmt.Errorf("size: %v", err)
		return t
	}
	if t.stride, err = ints(strideArg); err != nil {
		t.bad = fmt.Errorf("stride: %v", err)
		return t
	}
	if len(t.shape) != len(t.stride) {
		t.bad = fmt.Errorf("size has %d dimensions but stride has %d", len(t.shape), len(t.stride))
		return t
	}
	if len(t.shape) > maxDims {
		t.unsupported = fmt.Sprintf("%d dimensions (at most %d)", len(t.shape), maxDims)
		return t
	}
	for i := range t.shape {
		if t.shape[i] < 0 || t.stride[i] < 0 {
			t.bad = fmt.Errorf("negative size or stride %v / %v", t.shape, t.stride)
			return t
		}
	}
	return t
}

// storageArg accepts what a rebuild function gets as its storage: a storage
// the persistent-id hook returned or, in hand-built files such as burn's tar
// fixtures, the persistent-id tuple itself written inline.
func (b *builder) storageArg(v any) (*storageView, error) {
	switch s := v.(type) {
	case *storageView:
		return s, nil
	case *types.Tuple:
		if b.inlineStorage != nil && s.Len() > 0 && s.Get(0) == "storage" {
			r, err := b.inlineStorage(s)
			if err != nil {
				return nil, err
			}
			if view, ok := r.(*storageView); ok {
				return view, nil
			}
		}
	}
	return nil, fmt.Errorf("storage argument is %s, not a storage", describe(v))
}

// toInt reads a pickled integer that must fit in an int64.
func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case *big.Int:
		if n.IsInt64() {
			return n.Int64(), nil
		}
		return 0, errors.New("integer out of range")
	}
	return 0, fmt.Errorf("%s is not an integer", describe(v))
}

// ints reads a tuple (or list, or torch.Size) of integers.
func ints(v any) ([]int64, error) {
	if o, ok := v.(*pyObject); ok && o.Class.Module == "torch" && o.Class.Name == "Size" && len(o.Args) == 1 {
		v = o.Args[0]
	}
	seq, ok := sequence(v)
	if !ok {
		return nil, fmt.Errorf("%s is not a tuple", describe(v))
	}
	if len(seq) > maxDims {
		return nil, fmt.Errorf("%d dimensions (at most %d)", len(seq), maxDims)
	}
	out := make([]int64, len(seq))
	for i, e := range seq {
		n, err := toInt(e)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// sequence returns the items of a tuple or list.
func sequence(v any) ([]any, bool) {
	switch s := v.(type) {
	case *types.Tuple:
		return *s, true
	case *types.List:
		return *s, true
	}
	return nil, false
}

// describe names a pickled value's type for error messages without printing
// the value, which may be large or cyclic.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case int, *big.Int:
		return fmt.Sprintf("the integer %v", x)
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("the string %q", x)
	case *pyClass:
		return "the global " + x.String()
	case *pyObject:
		return "a " + x.Class.String() + " object"
	case *tensorObj:
		return "a tensor"
	case *storageView:
		return "a storage"
	case *storageClass:
		return "the global " + x.Name
	case *torchDType:
		return "the dtype " + x.Name
	case *rebuildFunc:
		return "the global torch._utils." + x.name
	case *types.Tuple:
		return fmt.Sprintf("a tuple of %d items", x.Len())
	case *types.List:
		return fmt.Sprintf("a list of %d items", x.Len())
	case *types.Dict, *types.OrderedDict:
		return "a dict"
	}
	return fmt.Sprintf("a value of Go type %T", v)
}
