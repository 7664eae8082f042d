package pytorch

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// legacyMagic is torch's magic number 0x1950a86a20f9469cfc6c, as the LONG1
// opcode pickles it (little-endian), and as protocols 0 and 1 write it.
var (
	legacyMagicLong1 = []byte{0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}
	legacyMagicText  = []byte("L119547037146038801333356")
)

// Sniff reports whether a file starting with head is a torch.save file: a zip
// archive whose first record is a torch record (<folder>/data.pkl as torch
// writes it), a legacy file starting with the pickled magic number, or a tar
// archive starting with one of torch's members. A numpy .npz, also a zip, is
// not claimed.
func Sniff(head []byte, size int64) bool {
	return isZip(head) || isLegacy(head) || isTar(head)
}

// isZip checks the first local file header's name.
func isZip(head []byte) bool {
	if len(head) < 30 || string(head[:4]) != "PK\x03\x04" {
		return false
	}
	n := int(binary.LittleEndian.Uint16(head[26:28]))
	if 30+n > len(head) {
		return false
	}
	return isTorchRecord(string(head[30 : 30+n]))
}

// torchRecords are the records a torch zip archive (torch.save or
// torch.jit.save) holds in its folder.
var torchRecords = map[string]bool{
	"data.pkl": true, "version": true, ".format_version": true, ".storage_alignment": true,
	"byteorder": true, "constants.pkl": true,
}

func isTorchRecord(name string) bool {
	if strings.HasSuffix(name, ".npy") {
		return false
	}
	if name == "data.pkl" {
		return true
	}
	folder, rest, ok := strings.Cut(name, "/")
	if !ok || folder == "" {
		return false
	}
	if torchRecords[rest] {
		return true
	}
	for _, dir := range []string{"data/", ".data/", "code/", "constants/", "extra/"} {
		if strings.HasPrefix(rest, dir) {
			return true
		}
	}
	return false
}

// isLegacy looks for the pickled magic number in the first pickle.
func isLegacy(head []byte) bool {
	h := head[:min(len(head), 32)]
	return bytes.Contains(h, legacyMagicLong1) || bytes.HasPrefix(h, legacyMagicText) ||
		bytes.HasPrefix(h, append([]byte("\x80\x01"), legacyMagicText...))
}

// tarMembers are the members of torch's tar format (before 0.1.10).
var tarMembers = map[string]bool{"sys_info": true, "pickle": true, "storages": true, "tensors": true}

// isTar checks for a ustar header naming a torch member.
func isTar(head []byte) bool {
	if len(head) < 263 || string(head[257:262]) != "ustar" {
		return false
	}
	name, _, _ := bytes.Cut(head[:100], []byte{0})
	return tarMembers[strings.TrimPrefix(string(name), "./")]
}
