//go:build unix

package plan

import (
	"io"
	"os"
	"syscall"
)

// mapTensor maps a float32 tensor's bytes straight from its file when the reader is a
// plain file (possibly through section readers), so that a merge reads the page cache
// in place instead of copying every input into a buffer first, as numpy's memory maps
// do. MAP_POPULATE faults the pages in with one call. The mapping is read-only: merge
// methods never write their inputs. ok is false when the reader is not a file, and the
// caller then reads the data into a buffer. It is also false when the file is already
// shorter than the tensor's end: reading it then gives a named "file ends early" error
// instead of a memory fault. file names the mapped file.
func mapTensor(r io.ReaderAt, n int64) (data []byte, release func(), file string, ok bool) {
	var off int64
	for {
		s, isSection := r.(*io.SectionReader)
		if !isSection {
			break
		}
		outer, o, _ := s.Outer()
		r, off = outer, off+o
	}
	f, isFile := r.(*os.File)
	if !isFile || n <= 0 {
		return nil, nil, "", false
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() < off+n {
		return nil, nil, "", false
	}
	page := int64(os.Getpagesize())
	start := off &^ (page - 1)
	length := off - start + n
	if length != int64(int(length)) {
		return nil, nil, "", false
	}
	m, err := syscall.Mmap(int(f.Fd()), start, int(length), syscall.PROT_READ, syscall.MAP_SHARED|mapPopulate)
	if err != nil {
		return nil, nil, "", false
	}
	return m[off-start:], func() { syscall.Munmap(m) }, f.Name(), true
}
