package pytorch

import (
	"archive/zip"
	"fmt"
	"math"
	"math/bits"

	"github.com/nlpodyssey/gopickle/types"
)

// storage is one serialised torch storage: a run of bytes in the file. The
// pickle names it by key; the container (zip record, legacy data section, tar
// member) says where its bytes are.
type storage struct {
	key   string
	class *storageClass
	// nbytes is the storage's size in bytes; -1 until the container tells
	// (the legacy formats store the element count beside the data).
	nbytes int64

	// Where the bytes are, once located.
	located   bool
	off       int64     // offset in the file of the first byte, when stored as is
	zf        *zip.File // set when the bytes are a compressed zip record
	bigEndian bool      // elements are big-endian (a file written on a big-endian machine)
	err       error     // why the storage could not be located
}

// builder collects the storages and tensors of one file while its pickles are
// read. The containers plug their persistent-id rules into it.
type builder struct {
	path     string
	storages map[string]*storage
	order    []*storage // storages in the order the pickle first named them
	// inlineStorage resolves a persistent-id tuple that a rebuild function got
	// as its storage argument; nil where that is not allowed.
	inlineStorage func(*types.Tuple) (any, error)
	// budget is the budget of the pickle being read.
	budget *budget
}

func newBuilder(path string) *builder {
	return &builder{path: path, storages: map[string]*storage{}}
}

// storageKey reads a storage key: torch writes strings, very old files integers.
func storageKey(v any) (string, bool) {
	switch k := v.(type) {
	case string:
		return k, true
	case int:
		return fmt.Sprint(k), true
	}
	return "", false
}

// storage returns the storage named key, creating it on first use. torch keeps
// the type of the first reference to a key; so does this.
func (b *builder) storage(key string, cls *storageClass, nbytes int64) *storage {
	if st, ok := b.storages[key]; ok {
		return st
	}
	st := &storage{key: key, class: cls, nbytes: nbytes}
	b.storages[key] = st
	b.order = append(b.order, st)
	return st
}

// parseStoragePID reads the persistent id torch.save writes for a storage:
// ('storage', storage_type, key, location, numel) in zip files, with a sixth
// item, view_metadata, in the legacy format. It returns the tuple's parts.
func parseStoragePID(t *types.Tuple) (cls *storageClass, key string, numel int64, err error) {
	if t.Len() < 5 {
		return nil, "", 0, fmt.Errorf("storage persistent id has %d items, want at least 5", t.Len())
	}
	cls, ok := t.Get(1).(*storageClass)
	if !ok {
		return nil, "", 0, fmt.Errorf("storage type is %s, not a torch storage class", describe(t.Get(1)))
	}
	key, ok = storageKey(t.Get(2))
	if !ok {
		return nil, "", 0, fmt.Errorf("storage key is %s", describe(t.Get(2)))
	}
	numel, err = toInt(t.Get(4))
	if err != nil || numel < 0 {
		return nil, "", 0, fmt.Errorf("storage size is %s", describe(t.Get(4)))
	}
	return cls, key, numel, nil
}

// mulBytes is n*size, or -1 when it overflows int64.
func mulBytes(n int64, size int) int64 { return mulInt64(n, int64(size)) }

// mulInt64 is a*b for non-negative a and b, or -1 when an operand is negative
// or the product overflows.
func mulInt64(a, b int64) int64 {
	if a < 0 || b < 0 {
		return -1
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return -1
	}
	return int64(lo)
}

// addBytes is a+b for non-negative a and b, or -1 when it overflows.
func addBytes(a, b int64) int64 {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return -1
	}
	return a + b
}
