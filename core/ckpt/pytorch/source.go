package pytorch

import (
	"fmt"
	"io"

	"ladle/core/ckpt"
)

// source is an opened torch.save file: the tensors' names, types, shapes and
// where their bytes are. It reads tensor data only in Tensor.
type source struct {
	r       io.ReaderAt
	path    string
	infos   []ckpt.Info
	byName  map[string]*tensorLoc
	inflate *inflater // reads compressed storages
}

// tensorLoc is a validated tensor: its bytes lie inside its storage, which lies
// inside the file.
type tensorLoc struct {
	st         *storage
	size       int   // element size
	base       int64 // byte offset in the storage of the first element read
	span       int64 // bytes from base to the end of the last element
	nbytes     int64 // bytes of the tensor in C order
	shape      []int64
	stride     []int64 // in elements
	contiguous bool    // base..base+nbytes is the tensor in C order
}

var _ ckpt.Source = (*source)(nil)

func (s *source) Path() string                { return s.path }
func (s *source) Format() string              { return "pytorch" }
func (s *source) Metadata() map[string]string { return map[string]string{} }
func (s *source) Tensors() []ckpt.Info        { return s.infos }

// Close lets go of any storage kept inflated; the source does not own its
// reader.
func (s *source) Close() error {
	s.inflate.close()
	return nil
}

// Tensor returns the named tensor's bytes in safetensors layout. A contiguous
// little-endian tensor stored as is (the usual case) is a window on the file;
// others are read and rearranged here.
func (s *source) Tensor(name string) (r *io.SectionReader, err error) {
	loc, ok := s.byName[name]
	if !ok {
		return nil, &ckpt.NotFoundError{File: s.path, Tensor: name}
	}
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, &ckpt.FormatError{File: s.path, Tensor: name, Msg: fmt.Sprintf("internal error (please report): %v", p)}
		}
	}()
	r, err = s.read(loc)
	if err != nil {
		return nil, nameError(s.path, name, err)
	}
	return r, nil
}

// build validates the named tensors and makes the source.
func build(r io.ReaderAt, path string, tensors []named) (*source, error) {
	s := &source{r: r, path: path, byName: make(map[string]*tensorLoc, len(tensors))}
	for _, n := range tensors {
		loc, err := validate(n.t)
		if err != nil {
			return nil, nameError(path, n.name, err)
		}
		s.infos = append(s.infos, ckpt.Info{Name: n.name, DType: n.t.dt, Shape: n.t.shape})
		s.byName[n.name] = loc
	}
	s.inflate = newInflater(s.byName)
	return s, nil
}

// validate checks that a tensor's elements all lie inside its storage.
func validate(t *tensorObj) (*tensorLoc, error) {
	if t.unsupported != "" {
		return nil, unsupported(t.unsupported)
	}
	if t.bad != nil {
		return nil, t.bad
	}
	st := t.view.st
	if !st.located {
		if st.err != nil {
			return nil, st.err
		}
		return nil, fmt.Errorf("storage %q has no data in the file", st.key)
	}
	size := t.dt.Size()
	numel := ckpt.NumElements(t.shape)
	nbytes := mulBytes(numel, size)
	if numel < 0 || nbytes < 0 {
		return nil, fmt.Errorf("shape %v is too large", t.shape)
	}
	loc := &tensorLoc{st: st, size: size, nbytes: nbytes, shape: t.shape, stride: t.stride}
	if numel == 0 {
		return loc, nil
	}
	// The view's bytes inside the storage.
	viewEnd := st.nbytes
	if t.view.nbytes >= 0 {
		viewEnd = addBytes(t.view.byteOff, t.view.nbytes)
		if viewEnd < 0 || viewEnd > st.nbytes {
			return nil, fmt.Errorf("storage view of %d bytes at byte %d is outside storage %q of %d bytes",
				t.view.nbytes, t.view.byteOff, st.key, st.nbytes)
		}
	}
	// The last element read is at offset + sum((shape[i]-1)*stride[i]);
	// shape[i] >= 1 here since the tensor is not empty.
	last := t.offset
	for i := range t.shape {
		last = addBytes(last, mulInt64(t.shape[i]-1, t.stride[i]))
		if last < 0 {
			return nil, fmt.Errorf("size %v with stride %v overflows", t.shape, t.stride)
		}
	}
	first := mulBytes(t.offset, size)        // in the view
	end := mulBytes(addBytes(last, 1), size) // in the view
	base := addBytes(t.view.byteOff, first)  // in the storage
	stop := addBytes(t.view.byteOff, end)    // in the storage
	if first < 0 || end < 0 || base < 0 || stop < 0 || stop > viewEnd {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) ends past its storage %q of %d bytes",
			t.offset, t.shape, t.stride, st.key, viewEnd-t.view.byteOff)
	}
	loc.base = base
	loc.span = end - first
	loc.contiguous = isContiguous(t.shape, t.stride)
	return loc, nil
}

// isContiguous reports whether stride is the C-order stride of shape.
// Dimensions of size 1 may have any stride, as in torch.
func isContiguous(shape, stride []int64) bool {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i] // cannot overflow: the element count was checked
	}
	return true
}

// nameError puts the file and tensor names on an error found while
// validating one tensor.
func nameError(path, name string, err error) error {
	switch e := err.(type) {
	case *ckpt.UnsupportedError:
		return &ckpt.UnsupportedError{File: path, Tensor: name, Msg: e.Msg}
	case *ckpt.FormatError:
		return &ckpt.FormatError{File: path, Tensor: name, Msg: e.Msg}
	}
	return &ckpt.FormatError{File: path, Tensor: name, Msg: err.Error()}
}

// unsupported is an UnsupportedError without file and tensor names, which
// nameError or pickleError add.
func unsupported(msg string) error { return &ckpt.UnsupportedError{Msg: msg} }

// isTyped reports whether err is already one of ckpt's error types.
func isTyped(err error) bool {
	switch err.(type) {
	case *ckpt.FormatError, *ckpt.UnsupportedError, *ckpt.NotFoundError:
		return true
	}
	return false
}
