package numpy

import (
	"io"
)

// NPYName is the name of the one tensor of a .npy file. A .npy array has no
// name of its own; numpy calls an unnamed array "arr_0" when np.savez stores it,
// so a.npy and np.savez("a.npz", x) read as the same tensor, and .npy files of
// different names merge with one another.
const NPYName = "arr_0"

// OpenNPY reads the header of the .npy file held by r (size bytes). path only
// names the file in errors. No array data is read.
func OpenNPY(r io.ReaderAt, size int64, path string) (*Reader, error) {
	w := where{file: path}
	if size < 0 {
		return nil, w.format(ErrTruncated, "negative file size %d", size)
	}
	h, err := readHeader(io.NewSectionReader(r, 0, size), size, w)
	if err != nil {
		return nil, err
	}
	// numpy ignores bytes after the data; so does Ladle.
	if h.nbytes > size-h.dataOff {
		return nil, w.format(ErrTruncated, "the %s%v array needs %d data bytes after its %d-byte header, but the file holds %d",
			h.dt, h.shape, h.nbytes, h.dataOff, size-h.dataOff)
	}
	rd := newReader(r, path, "npy")
	rd.add(NPYName, &array{hdr: h, off: h.dataOff})
	return rd, nil
}
