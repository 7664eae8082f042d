// Package ckpt is Ladle's format-neutral view of a checkpoint: a list of named tensors
// (Info: name, dtype, shape) read lazily one at a time (Source), and an ordered
// stream of tensors to write (Sink).
//
// Invariants every Source keeps:
//
//   - Listing tensors reads only the container's index (a safetensors header, a
//     PyTorch pickle and zip directory); tensor bytes are read when Tensor is called,
//     so memory stays bounded by the tensors a caller holds, not by the file.
//   - Tensor data comes in one layout whatever the container stores: C-contiguous,
//     little-endian, exactly Info.Bytes() bytes. Strided PyTorch views are materialised.
//   - Errors name the file and, where one is at fault, the tensor: *FormatError for
//     malformed bytes, *UnsupportedError for valid files using something Ladle does not
//     read, *NotFoundError for a missing tensor. No input makes a reader panic.
//
// Open sniffs the format from a file's first bytes, never its extension; format
// packages register themselves (ladle/core/ckpt/all imports them all). A folder, or a
// *.safetensors.index.json file, opens as a sharded checkpoint.
//
// Outputs are written through CreateAtomic: the file takes its final name only once
// complete, so a failed or cancelled write leaves nothing behind. An existing output
// path that is not a regular file (a device, a FIFO, a symbolic link, a folder) is
// refused, never replaced. Partial files are locked while written and recorded, so that
// RemovePartials (a command's signal handler) deletes them, and a later run removes
// those a killed process left (SweepStalePartials). Inputs are opened with OpenInput,
// which refuses FIFOs and devices, since reading them would block or never end.
package ckpt
