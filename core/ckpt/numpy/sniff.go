package numpy

import (
	"encoding/binary"
	"io"
	"strings"

	"ladle/core/ckpt"
)

func init() {
	ckpt.Register(ckpt.Format{Name: "npy", Sniff: SniffNPY, Open: func(r io.ReaderAt, size int64, path string) (ckpt.Source, error) {
		return OpenNPY(r, size, path)
	}})
	ckpt.Register(ckpt.Format{Name: "npz", Sniff: SniffNPZ, Open: func(r io.ReaderAt, size int64, path string) (ckpt.Source, error) {
		return OpenNPZ(r, size, path)
	}})
}

// SniffNPY reports whether head starts a .npy array.
func SniffNPY(head []byte, size int64) bool {
	return strings.HasPrefix(string(head), magic)
}

// SniffNPZ reports whether head starts an .npz archive: a zip whose first
// entry's name ends in .npy, as np.savez writes. The pytorch format claims only
// zips whose first entry is a torch record and never one ending in .npy, so the
// two never both claim a file.
func SniffNPZ(head []byte, size int64) bool {
	if len(head) < 30 || string(head[:4]) != "PK\x03\x04" {
		return false
	}
	n := int(binary.LittleEndian.Uint16(head[26:28]))
	if 30+n > len(head) {
		return false
	}
	return strings.HasSuffix(string(head[30:30+n]), ".npy")
}
