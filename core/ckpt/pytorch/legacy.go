package pytorch

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/big"

	"github.com/nlpodyssey/gopickle/types"

	"ladle/core/ckpt"
)

// legacyProtocol is the protocol version the legacy format must declare.
const legacyProtocol = 1001

var legacyMagicNumber, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// openLegacy reads torch's non-zip format (torch < 1.6, or
// _use_new_zipfile_serialization=False): five pickles (magic number, protocol
// version, sys_info, the object, the list of storage keys) followed, for each
// key in that order, by an 8-byte little-endian element count and the
// storage's raw bytes. The data is skipped over, not read.
func openLegacy(r io.ReaderAt, size int64, path string) (ckpt.Source, error) {
	fail := func(format string, args ...any) error {
		return &ckpt.FormatError{File: path, Msg: fmt.Sprintf(format, args...)}
	}
	b := newBuilder(path)
	off := int64(0)
	next := func(what string, pl func(any) (any, error)) (any, *budget, error) {
		p, err := readPickle(r, off, size)
		if err != nil {
			return nil, nil, pickleError(path, what, err)
		}
		off += int64(len(p.data))
		v, err := b.unpickle(p, pl)
		if err != nil {
			return nil, nil, pickleError(path, what, err)
		}
		return v, p.budget, nil
	}

	magic, _, err := next("magic number", nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagicNumber) != 0 {
		return nil, fail("wrong magic number: not a torch.save file")
	}
	proto, _, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int); !ok || p != legacyProtocol {
		return nil, &ckpt.UnsupportedError{File: path, Msg: fmt.Sprintf("legacy protocol version %s (want %d)", describe(proto), legacyProtocol)}
	}
	sysInfo, _, err := next("sys_info", nil)
	if err != nil {
		return nil, err
	}
	bigEndian := !littleEndian(sysInfo)

	views := map[string]*storageView{}
	b.inlineStorage = func(t *types.Tuple) (any, error) { return b.legacyStorage(t, views) }
	root, pickleBudget, err := next("pickle", func(pid any) (any, error) {
		t, ok := pid.(*types.Tuple)
		if !ok || t.Len() == 0 {
			return nil, fmt.Errorf("persistent id is %s", describe(pid))
		}
		switch t.Get(0) {
		case "storage":
			return b.legacyStorage(t, views)
		case "module":
			// ('module', class, source_file, source): the class itself.
			if t.Len() < 2 {
				return nil, fmt.Errorf("module persistent id without a class")
			}
			return t.Get(1), nil
		}
		return nil, fmt.Errorf("persistent id of kind %s", describe(t.Get(0)))
	})
	if err != nil {
		return nil, err
	}
	keysObj, _, err := next("storage keys", nil)
	if err != nil {
		return nil, err
	}
	keys, ok := sequence(keysObj)
	if !ok {
		return nil, fail("storage keys: %s, not a list", describe(keysObj))
	}
	for _, k := range keys {
		key, ok := storageKey(k)
		if !ok {
			return nil, fail("storage keys: a key is %s", describe(k))
		}
		st := b.storages[key]
		if st == nil {
			return nil, fail("storage keys: %q is not used by the pickle", key)
		}
		if st.located {
			return nil, fail("storage keys: %q is listed twice", key)
		}
		var count [8]byte
		if off+8 > size {
			return nil, fail("storage %q: the file ends before its data", key)
		}
		if _, err := r.ReadAt(count[:], off); err != nil {
			return nil, fail("storage %q: %v", key, err)
		}
		n := int64(binary.LittleEndian.Uint64(count[:]))
		nbytes := mulBytes(n, st.class.Size)
		end := addBytes(addBytes(off, 8), nbytes)
		if nbytes < 0 || end < 0 || end > size {
			return nil, fail("storage %q: %d elements of %d bytes run past the end of the file", key, n, st.class.Size)
		}
		st.nbytes, st.off, st.located, st.bigEndian = nbytes, off+8, true, bigEndian
		off = end
	}
	tensors, err := selectTensors(path, root, pickleBudget)
	if err != nil {
		return nil, err
	}
	return build(r, path, tensors)
}

// legacyStorage handles ('storage', storage_type, key, location, numel,
// view_metadata). view_metadata, from torch < 0.4, is None or
// (view_key, offset, size), a slice of the storage in elements.
func (b *builder) legacyStorage(t *types.Tuple, views map[string]*storageView) (any, error) {
	cls, key, _, err := parseStoragePID(t)
	if err != nil {
		return nil, err
	}
	st := b.storage(key, cls, -1)
	if t.Len() < 6 || t.Get(5) == nil {
		return &storageView{st: st, nbytes: -1}, nil
	}
	vm, ok := sequence(t.Get(5))
	if !ok || len(vm) != 3 {
		return nil, fmt.Errorf("storage %q: view metadata is %s", key, describe(t.Get(5)))
	}
	viewKey, ok := storageKey(vm[0])
	if !ok {
		return nil, fmt.Errorf("storage %q: view key is %s", key, describe(vm[0]))
	}
	if v, ok := views[viewKey]; ok {
		return v, nil
	}
	offset, err1 := toInt(vm[1])
	n, err2 := toInt(vm[2])
	byteOff, nbytes := mulBytes(offset, st.class.Size), mulBytes(n, st.class.Size)
	if err1 != nil || err2 != nil || byteOff < 0 || nbytes < 0 {
		return nil, fmt.Errorf("storage %q: bad view offset or size", key)
	}
	v := &storageView{st: st, byteOff: byteOff, nbytes: nbytes}
	views[viewKey] = v
	return v, nil
}

// littleEndian reads sys_info's little_endian flag; files without one are
// little-endian.
func littleEndian(sysInfo any) bool {
	items, ok := dictItems(sysInfo)
	if !ok {
		return true
	}
	for _, e := range items {
		if e.Key == "little_endian" {
			if le, ok := e.Value.(bool); ok {
				return le
			}
		}
	}
	return true
}
