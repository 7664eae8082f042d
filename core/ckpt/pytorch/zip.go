package pytorch

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/nlpodyssey/gopickle/types"

	"ladle/core/ckpt"
)

// openZip reads the zip format of torch >= 1.6: <folder>/data.pkl holds the
// pickle, and storage key k is the record <folder>/data/k, stored
// uncompressed. Only the zip directory, data.pkl, byteorder and the local
// headers of the storages the state dict uses are read here.
func openZip(r io.ReaderAt, size int64, path string) (ckpt.Source, error) {
	fail := func(format string, args ...any) error {
		return &ckpt.FormatError{File: path, Msg: fmt.Sprintf(format, args...)}
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if !hasZipEnd(r, size) {
			return nil, fail("the file is truncated: it ends at byte %d, before the zip directory that closes every torch.save file "+
				"(the complete file is larger); copy or download it again, or save it again with torch.save", size)
		}
		return nil, fail("not a readable zip archive: %v; save it again with torch.save", err)
	}
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if _, dup := files[f.Name]; !dup {
			files[f.Name] = f
		}
	}
	prefix, err := zipPrefix(zr.File)
	if err != nil {
		return nil, fail("%v", err)
	}
	if files[prefix+"constants.pkl"] != nil || hasPrefix(zr.File, prefix+"code/") {
		return nil, &ckpt.UnsupportedError{File: path, Msg: "a TorchScript archive (torch.jit.save); " +
			"load it in Python and save its state_dict() with torch.save"}
	}
	bigEndian, err := zipByteOrder(files[prefix+"byteorder"])
	if err != nil {
		return nil, fail("%v", err)
	}
	data, err := zipPickle(r, size, files[prefix+"data.pkl"])
	if err != nil {
		return nil, pickleError(path, prefix+"data.pkl", err)
	}

	b := newBuilder(path)
	b.inlineStorage = b.zipStorage
	root, err := b.unpickle(data, func(pid any) (any, error) {
		t, ok := pid.(*types.Tuple)
		if !ok || t.Len() == 0 || t.Get(0) != "storage" {
			return nil, fmt.Errorf("persistent id is %s, not a storage", describe(pid))
		}
		return b.zipStorage(t)
	})
	if err != nil {
		return nil, pickleError(path, prefix+"data.pkl", err)
	}
	tensors, err := selectTensors(path, root, data.budget)
	if err != nil {
		return nil, err
	}
	for _, n := range tensors {
		if n.t.view != nil {
			locateZip(n.t.view.st, files, prefix, size, bigEndian)
		}
	}
	return build(r, path, tensors)
}

// zipStorage handles a ('storage', storage_type, key, location, numel) persistent id.
func (b *builder) zipStorage(t *types.Tuple) (any, error) {
	cls, key, numel, err := parseStoragePID(t)
	if err != nil {
		return nil, err
	}
	nbytes := mulBytes(numel, cls.Size)
	if nbytes < 0 {
		return nil, fmt.Errorf("storage %q: %d elements of %d bytes overflow", key, numel, cls.Size)
	}
	return &storageView{st: b.storage(key, cls, nbytes), nbytes: -1}, nil
}

// zipPrefix finds the archive's folder: torch names every record
// <folder>/<record>, with any folder name (archive/, the file's base name, ...).
func zipPrefix(files []*zip.File) (string, error) {
	prefix, found := "", 0
	for _, f := range files {
		if f.Name == "data.pkl" || (strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1) {
			prefix = strings.TrimSuffix(f.Name, "data.pkl")
			found++
		}
	}
	switch found {
	case 0:
		return "", errors.New("the zip archive has no data.pkl record: not a torch.save file")
	case 1:
		return prefix, nil
	}
	return "", errors.New("the zip archive has several data.pkl records")
}

func hasPrefix(files []*zip.File, prefix string) bool {
	for _, f := range files {
		if strings.HasPrefix(f.Name, prefix) {
			return true
		}
	}
	return false
}

// zipByteOrder reads the byteorder record (torch >= 2.1); without one the
// data is little-endian.
func zipByteOrder(f *zip.File) (bigEndian bool, err error) {
	if f == nil {
		return false, nil
	}
	rc, err := f.Open()
	if err != nil {
		return false, fmt.Errorf("byteorder record: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16))
	if err != nil {
		return false, fmt.Errorf("byteorder record: %v", err)
	}
	switch string(b) {
	case "little":
		return false, nil
	case "big":
		return true, nil
	}
	return false, fmt.Errorf("byteorder record says %q, not little or big", b)
}

// zipPickle scans data.pkl. A stored record is read in place; a compressed
// one (torch never writes one, a re-zipped archive may) is inflated as it is
// scanned, at most to inflateRatio times its compressed size: reading stops
// at the limit, so a small record that inflates to gigabytes costs no more
// than the limit.
func zipPickle(r io.ReaderAt, size int64, f *zip.File) (*pickleStream, error) {
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			return nil, err
		}
		n := int64(min(f.UncompressedSize64, uint64(size)))
		end := addBytes(off, n)
		if end < 0 || end > size {
			return nil, errors.New("the record runs past the end of the file")
		}
		if n > maxPickleBytes {
			return nil, tooLarge()
		}
		br := bufio.NewReaderSize(io.NewSectionReader(r, off, n), 64<<10)
		return scanPickle(br, n, maxPickleBytes, n, tooLarge)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	comp := int64(min(f.CompressedSize64, uint64(size)))
	limit := int64(maxPickleBytes)
	over := tooLarge
	if l := max(minInflateLimit, inflateRatio*comp); l < limit {
		limit = l
		over = func() error {
			return overBudget("it inflates past %s, %d times its compressed size of %s "+
				"(torch.save writes data.pkl uncompressed: save the file again with torch.save, or zip it without compression)",
				ckpt.FormatBytes(limit), inflateRatio, ckpt.FormatBytes(comp))
		}
	}
	// What the record claims to inflate to is only a claim: no buffer is
	// sized from it.
	avail := int64(min(f.UncompressedSize64, math.MaxInt64))
	return scanPickle(bufio.NewReaderSize(rc, 64<<10), avail, limit, 0, over)
}

// locateZip finds where storage st's bytes are. Problems are kept in st.err
// and reported for the tensors that use st.
func locateZip(st *storage, files map[string]*zip.File, prefix string, size int64, bigEndian bool) {
	if st.located || st.err != nil {
		return
	}
	name := prefix + "data/" + st.key
	f := files[name]
	if f == nil {
		st.err = fmt.Errorf("storage %q is missing: the zip has no record %s", st.key, name)
		return
	}
	if f.UncompressedSize64 < uint64(st.nbytes) {
		st.err = fmt.Errorf("record %s holds %d bytes but storage %q needs %d", name, f.UncompressedSize64, st.key, st.nbytes)
		return
	}
	off, err := f.DataOffset()
	if err != nil {
		st.err = fmt.Errorf("record %s: %v", name, err)
		return
	}
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != f.UncompressedSize64 {
			st.err = fmt.Errorf("record %s is stored but its sizes differ", name)
			return
		}
		if end := addBytes(off, st.nbytes); end < 0 || end > size {
			st.err = fmt.Errorf("record %s runs past the end of the file", name)
			return
		}
		st.off = off
	case zip.Deflate:
		if end := addBytes(off, int64(min(f.CompressedSize64, uint64(size)))); end < 0 || end > size ||
			f.CompressedSize64 > uint64(size) {
			st.err = fmt.Errorf("record %s runs past the end of the file", name)
			return
		}
		// Checked before anything is allocated for the storage's bytes.
		if st.nbytes/maxDeflateRatio > int64(f.CompressedSize64) {
			st.err = fmt.Errorf("record %s of %d compressed bytes cannot hold the %d bytes of storage %q", name, f.CompressedSize64, st.nbytes, st.key)
			return
		}
		st.zf = f
	default:
		st.err = unsupportedf("record %s uses zip compression method %d", name, f.Method)
		return
	}
	st.located = true
	st.bigEndian = bigEndian
}

// hasZipEnd reports whether the end-of-central-directory record's signature is in the
// file's last 64 KiB + 22 bytes (where a zip archive keeps it, after its comment).
func hasZipEnd(r io.ReaderAt, size int64) bool {
	n := min(size, 22+65535)
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return false
	}
	return bytes.Contains(tail, []byte("PK\x05\x06"))
}
