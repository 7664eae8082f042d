package pytorch

import (
	"archive/tar"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/nlpodyssey/gopickle/types"

	"ladle/core/ckpt"
)

// maxTarMembers bounds the headers read from a tar file; torch writes four.
const maxTarMembers = 64

// member is where a tar member's bytes are in the file.
type member struct{ off, size int64 }

// tarReader reads torch's tar format (torch before 0.1.10), following
// torch/serialization.py's legacy_load:
//
//	sys_info  pickle {protocol_version, little_endian, type_sizes}
//	storages  pickle count; per storage: pickle (key, location, storage_type),
//	          int64 element count, raw bytes; then, optionally, a pickled list
//	          of storage views (view_key, root_key, offset, numel)
//	tensors   pickle count; per tensor: pickle (key, storage_key, tensor_type),
//	          int32 ndim, 4 unused bytes, ndim int64 sizes, ndim int64 strides,
//	          int64 storage offset
//	pickle    the object; each tensor is a persistent id naming a tensors entry
//
// The hand-built files of burn's test suite have no tensors member and write
// each tensor as _rebuild_tensor_v2 over an inline ('storage', ...) tuple; those
// are read too.
type tarReader struct {
	r       io.ReaderAt
	path    string
	b       *builder
	views   map[string]*storageView
	tensors map[string]*tensorObj
	big     bool
}

func openTar(r io.ReaderAt, size int64, path string) (ckpt.Source, error) {
	fail := func(format string, args ...any) error {
		return &ckpt.FormatError{File: path, Msg: fmt.Sprintf(format, args...)}
	}
	members, err := tarMembersOf(r, size)
	if err != nil {
		return nil, fail("tar archive: %v", err)
	}
	t := &tarReader{r: r, path: path, b: newBuilder(path), views: map[string]*storageView{}, tensors: map[string]*tensorObj{}}
	if m, ok := members["sys_info"]; ok {
		v, _, _, err := t.pickle(m.off, m.off+m.size, nil)
		if err != nil {
			return nil, pickleError(path, "sys_info", err)
		}
		t.big = !littleEndian(v)
	}
	m, ok := members["storages"]
	if !ok {
		return nil, fail("the tar archive has no storages member: not a torch.save file")
	}
	if err := t.readStorages(m); err != nil {
		return nil, pickleError(path, "storages", err)
	}
	if m, ok := members["tensors"]; ok {
		if err := t.readTensors(m); err != nil {
			return nil, pickleError(path, "tensors", err)
		}
	}
	m, ok = members["pickle"]
	if !ok {
		return nil, fail("the tar archive has no pickle member: not a torch.save file")
	}
	t.b.inlineStorage = t.inlineStorage
	root, _, pickleBudget, err := t.pickle(m.off, m.off+m.size, t.persistentLoad)
	if err != nil {
		return nil, pickleError(path, "pickle", err)
	}
	tensors, err := selectTensors(path, root, pickleBudget)
	if err != nil {
		return nil, err
	}
	return build(r, path, tensors)
}

// tarMembersOf lists the regular members and where their data is.
func tarMembersOf(r io.ReaderAt, size int64) (map[string]member, error) {
	sr := io.NewSectionReader(r, 0, size)
	tr := tar.NewReader(sr)
	out := map[string]member{}
	for i := 0; ; i++ {
		if i == maxTarMembers {
			return nil, fmt.Errorf("more than %d members", maxTarMembers)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		// tar.Reader reads headers in whole blocks and nothing more, so the
		// section's position is where this member's data starts.
		off, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		if end := addBytes(off, hdr.Size); end < 0 || end > size {
			return nil, fmt.Errorf("member %s runs past the end of the file", hdr.Name)
		}
		if _, dup := out[hdr.Name]; !dup {
			out[hdr.Name] = member{off, hdr.Size}
		}
	}
}

// pickle reads one pickle at off, which must end before end; it returns the
// value, the pickle's length and its budget.
func (t *tarReader) pickle(off, end int64, pl func(any) (any, error)) (any, int, *budget, error) {
	p, err := readPickle(t.r, off, end)
	if err != nil {
		return nil, 0, nil, err
	}
	v, err := t.b.unpickle(p, pl)
	return v, len(p.data), p.budget, err
}

// normKey makes the keys of the tar format comparable: torch wrote them as
// integers in some places and as their decimal strings in others.
func normKey(v any) (string, bool) {
	switch k := v.(type) {
	case int:
		return strconv.Itoa(k), true
	case string:
		if n, err := strconv.Atoi(k); err == nil {
			return strconv.Itoa(n), true
		}
		return k, true
	}
	return "", false
}

// count reads the pickled item count that starts the storages and tensors
// members; each item takes at least min bytes.
func (t *tarReader) count(off *int64, end int64, min int64) (int64, error) {
	v, n, _, err := t.pickle(*off, end, nil)
	if err != nil {
		return 0, err
	}
	*off += int64(n)
	c, err := toInt(v)
	if err != nil || c < 0 || c > (end-*off)/min {
		return 0, fmt.Errorf("item count %s does not fit the member", describe(v))
	}
	return c, nil
}

func (t *tarReader) readStorages(m member) error {
	off, end := m.off, m.off+m.size
	n, err := t.count(&off, end, 9)
	if err != nil {
		return err
	}
	for i := int64(0); i < n; i++ {
		v, pn, _, err := t.pickle(off, end, nil)
		if err != nil {
			return err
		}
		off += int64(pn)
		args, ok := sequence(v)
		if !ok || len(args) != 3 {
			return fmt.Errorf("storage header is %s, want (key, location, storage_type)", describe(v))
		}
		key, ok := normKey(args[0])
		cls, clsOK := args[2].(*storageClass)
		if !ok || !clsOK {
			return fmt.Errorf("storage header (%s, _, %s) is malformed", describe(args[0]), describe(args[2]))
		}
		var buf [8]byte
		if off+8 > end {
			return fmt.Errorf("storage %q: the member ends before its size", key)
		}
		if _, err := t.r.ReadAt(buf[:], off); err != nil {
			return err
		}
		numel := int64(binary.LittleEndian.Uint64(buf[:]))
		nbytes := mulBytes(numel, cls.Size)
		dataEnd := addBytes(off+8, nbytes)
		if nbytes < 0 || dataEnd < 0 || dataEnd > end {
			return fmt.Errorf("storage %q: %d elements run past the end of the member", key, numel)
		}
		st := t.b.storage(key, cls, nbytes)
		if st.located {
			return fmt.Errorf("storage %q appears twice", key)
		}
		st.off, st.located, st.bigEndian = off+8, true, t.big
		off = dataEnd
	}
	if off >= end {
		return nil
	}
	v, _, _, err := t.pickle(off, end, nil)
	if err != nil {
		return err
	}
	list, ok := sequence(v)
	if !ok {
		return fmt.Errorf("storage views are %s, not a list", describe(v))
	}
	for _, item := range list {
		f, ok := sequence(item)
		if !ok || len(f) != 4 {
			return fmt.Errorf("storage view is %s, want (view_key, root_key, offset, numel)", describe(item))
		}
		viewKey, ok1 := normKey(f[0])
		rootKey, ok2 := normKey(f[1])
		offset, err1 := toInt(f[2])
		numel, err2 := toInt(f[3])
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			return fmt.Errorf("storage view has malformed fields")
		}
		root := t.b.storages[rootKey]
		if root == nil {
			return fmt.Errorf("storage view %q of unknown storage %q", viewKey, rootKey)
		}
		byteOff, nbytes := mulBytes(offset, root.class.Size), mulBytes(numel, root.class.Size)
		if byteOff < 0 || nbytes < 0 {
			return fmt.Errorf("storage view %q has a negative or huge offset or size", viewKey)
		}
		t.views[viewKey] = &storageView{st: root, byteOff: byteOff, nbytes: nbytes}
	}
	return nil
}

// view returns the storage (or storage view) named key.
func (t *tarReader) view(key string) (*storageView, bool) {
	if v, ok := t.views[key]; ok {
		return v, true
	}
	if st, ok := t.b.storages[key]; ok {
		return &storageView{st: st, nbytes: -1}, true
	}
	return nil, false
}

func (t *tarReader) readTensors(m member) error {
	off, end := m.off, m.off+m.size
	n, err := t.count(&off, end, 16)
	if err != nil {
		return err
	}
	for i := int64(0); i < n; i++ {
		v, pn, _, err := t.pickle(off, end, nil)
		if err != nil {
			return err
		}
		off += int64(pn)
		args, ok := sequence(v)
		if !ok || len(args) != 3 {
			return fmt.Errorf("tensor header is %s, want (key, storage_key, tensor_type)", describe(v))
		}
		key, ok1 := normKey(args[0])
		stKey, ok2 := normKey(args[1])
		if !ok1 || !ok2 {
			return fmt.Errorf("tensor header has malformed keys")
		}
		var hdr [8]byte
		if off+8 > end {
			return fmt.Errorf("tensor %q: the member ends early", key)
		}
		if _, err := t.r.ReadAt(hdr[:], off); err != nil {
			return err
		}
		ndim := int64(int32(binary.LittleEndian.Uint32(hdr[:4])))
		if ndim < 0 || ndim > maxDims {
			return fmt.Errorf("tensor %q has %d dimensions", key, ndim)
		}
		need := 8 + 16*ndim + 8
		if off+need > end {
			return fmt.Errorf("tensor %q: the member ends early", key)
		}
		buf := make([]byte, need-8)
		if _, err := t.r.ReadAt(buf, off+8); err != nil {
			return err
		}
		off += need
		shape, stride := make([]int64, ndim), make([]int64, ndim)
		for d := range ndim {
			shape[d] = int64(binary.LittleEndian.Uint64(buf[8*d:]))
			stride[d] = int64(binary.LittleEndian.Uint64(buf[8*(ndim+d):]))
		}
		offset := int64(binary.LittleEndian.Uint64(buf[16*ndim:]))
		obj := &tensorObj{offset: offset, shape: shape, stride: stride}
		sv, ok := t.view(stKey)
		switch {
		case !ok:
			obj.bad = fmt.Errorf("storage %q is not in the storages member", stKey)
		case !sv.st.class.DT.Valid():
			obj.unsupported = "storage type " + sv.st.class.Name
		default:
			obj.view, obj.dt = sv, sv.st.class.DT
			if offset < 0 {
				obj.bad = fmt.Errorf("negative storage offset %d", offset)
			}
			for d := range shape {
				if shape[d] < 0 || stride[d] < 0 {
					obj.bad = fmt.Errorf("negative size or stride %v / %v", shape, stride)
				}
			}
		}
		t.tensors[key] = obj
	}
	return nil
}

// persistentLoad resolves the main pickle's persistent ids: a tuple is a
// module's (class, source file, source), standing for the class; anything else
// is the key of a tensor (or storage) read from the other members.
func (t *tarReader) persistentLoad(pid any) (any, error) {
	if tup, ok := pid.(*types.Tuple); ok {
		if tup.Len() == 0 {
			return nil, fmt.Errorf("empty persistent id")
		}
		return tup.Get(0), nil
	}
	key, ok := normKey(pid)
	if !ok {
		return nil, fmt.Errorf("persistent id is %s", describe(pid))
	}
	if obj, ok := t.tensors[key]; ok {
		return obj, nil
	}
	if v, ok := t.view(key); ok {
		return v, nil
	}
	return nil, fmt.Errorf("persistent id %q names no tensor or storage", key)
}

// inlineStorage resolves burn's inline ('storage', class, key, location, numel)
// tuples against the storages member.
func (t *tarReader) inlineStorage(tup *types.Tuple) (any, error) {
	if tup.Len() < 3 {
		return nil, fmt.Errorf("storage tuple has %d items", tup.Len())
	}
	key, ok := normKey(tup.Get(2))
	if !ok {
		return nil, fmt.Errorf("storage key is %s", describe(tup.Get(2)))
	}
	v, ok := t.view(key)
	if !ok {
		return nil, fmt.Errorf("storage %q is not in the storages member", key)
	}
	return v, nil
}
