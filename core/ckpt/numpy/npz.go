package numpy

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
)

// maxDeflateRatio is the most that deflate can expand data (258-byte matches
// coded in about two bits each); an entry declaring more is impossible.
const maxDeflateRatio = 1032

// OpenNPZ reads the index of the .npz archive held by r (size bytes): the zip
// directory, and each array's local header and .npy header. No array data is
// read. path only names the file in errors.
//
// An entry named "x.npy" is the tensor "x". Entries whose names do not end in
// .npy are not arrays (numpy returns them as raw bytes); they are listed in the
// metadata under "npz.skipped_entries". Directories are ignored.
func OpenNPZ(r io.ReaderAt, size int64, path string) (*Reader, error) {
	w := where{file: path}
	if size < 0 {
		return nil, w.format(ErrTruncated, "negative file size %d", size)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, w.format(ErrBadZip, "not a readable zip archive: %v (a truncated or damaged file?); copy or download it again, or save it again with numpy.savez", err)
	}
	rd := newReader(r, path, "npz")
	var skipped []string
	for _, f := range zr.File {
		switch {
		case strings.HasSuffix(f.Name, "/"):
			continue
		case !strings.HasSuffix(f.Name, ".npy"):
			skipped = append(skipped, f.Name)
			continue
		}
		name := strings.TrimSuffix(f.Name, ".npy")
		w := where{file: path, tensor: name}
		if _, dup := rd.arrays[name]; dup {
			return nil, w.format(ErrDuplicateName, "the archive holds two entries named %q", f.Name)
		}
		a, err := locate(r, size, f, w)
		if err != nil {
			return nil, err
		}
		rd.add(name, a)
	}
	if len(rd.infos) == 0 && len(skipped) > 0 {
		return nil, w.format(ErrNotNPZ, "the zip archive holds %d entries but no .npy arrays: not an .npz file", len(skipped))
	}
	if len(skipped) > 0 {
		b, _ := json.Marshal(skipped)
		rd.metadata["npz.skipped_entries"] = string(b)
	}
	return rd, nil
}

// locate reads one entry's .npy header and checks that its data lies inside
// the entry, and the entry inside the file.
func locate(r io.ReaderAt, size int64, f *zip.File, w where) (*array, error) {
	if f.Flags&1 != 0 {
		return nil, w.unsupported(ErrZipMethod, "zip entry %q is encrypted", f.Name)
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, w.format(ErrBadZip, "zip entry %q: %v", f.Name, err)
	}
	if off < 0 || off > size || f.CompressedSize64 > uint64(size-off) {
		return nil, w.format(ErrTruncated, "zip entry %q (%d bytes at byte %d) runs past the end of the %d-byte file",
			f.Name, f.CompressedSize64, off, size)
	}
	usize := f.UncompressedSize64
	var h *arrayHeader
	a := &array{}
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != usize {
			return nil, w.format(ErrBadZip, "zip entry %q is stored, but declares %d bytes compressed and %d uncompressed",
				f.Name, f.CompressedSize64, usize)
		}
		h, err = readHeader(io.NewSectionReader(r, off, int64(usize)), int64(usize), w)
		if err != nil {
			return nil, err
		}
		a.off = off + h.dataOff
	case zip.Deflate:
		if usize/maxDeflateRatio > f.CompressedSize64+1 || usize > math.MaxInt64 {
			return nil, w.format(ErrBadZip, "zip entry %q declares %d bytes inflated from %d, more than deflate can produce",
				f.Name, usize, f.CompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, w.format(ErrBadZip, "zip entry %q: %v", f.Name, err)
		}
		h, err = readHeader(rc, int64(usize), w)
		rc.Close()
		if err != nil {
			return nil, err
		}
		a.zf = f
	default:
		return nil, w.unsupported(ErrZipMethod, "zip entry %q uses compression method %d (np.savez stores, np.savez_compressed deflates)",
			f.Name, f.Method)
	}
	if h.nbytes > int64(usize)-h.dataOff {
		return nil, w.format(ErrTruncated, "zip entry %q holds %d bytes, but its %s%v array needs %d after the %d-byte header",
			f.Name, usize, h.dt, h.shape, h.nbytes, h.dataOff)
	}
	a.hdr = h
	return a, nil
}
