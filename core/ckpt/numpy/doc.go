// Package numpy reads numpy's array files: .npy (one array) and .npz (a zip
// archive of .npy arrays, as np.savez and np.savez_compressed write). It never
// writes them, and never unpickles anything.
//
// A .npy array is the magic \x93NUMPY, a format version (1.0, 2.0 or 3.0 are
// read), a header length (2 bytes in 1.0, 4 in 2.0 and 3.0), a header that is a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// (parsed as data, never evaluated), then the elements.
//
// Names and formats. An .npz entry "x.npy" is the tensor "x", in the archive's
// order; its Source's Format() is "npz". A bare .npy file has no name for its
// array: its one tensor is called "arr_0" (NPYName), which is numpy's own name
// for an unnamed array in an .npz, and its Format() is "npy", so that a tool can
// tell the two containers apart. Both are registered with ckpt.Open, which
// recognises them by their first bytes: the .npy magic, or a zip whose first
// entry's name ends in .npy (the pytorch format claims only zips whose first
// entry is a torch record, so no file is claimed by both).
//
// Element types. 'descr' maps to Ladle's types: f2 F16, f4 F32, f8 F64, i1..i8
// I8..I64, u1..u8 U8..U64, b1 BOOL. Multi-byte types must say their byte order
// ('<' or '>'). Everything else is an *ckpt.UnsupportedError: object arrays
// ('O', which numpy pickles) wrapping ErrObjectArray, and structured, string,
// complex, datetime, long double and void types (numpy saves ml_dtypes' bfloat16
// as '<V2', raw bytes indistinguishable from any other 2-byte record) wrapping
// ErrUnsupportedType.
//
// Reading is lazy. OpenNPY reads the header; OpenNPZ reads the zip directory
// and, for each array, its local header and .npy header (decompressing only as
// far as the header for a deflated entry). Tensor reads one array when asked: a
// stored (np.savez) C-ordered little-endian array is a window on the caller's
// io.ReaderAt, with no copy; a deflated C-ordered entry is decompressed as it is
// read (and byte-swapped when big-endian), a window at a time, so that reading it
// in order holds kilobytes whatever its size (its reader is ckpt.Sequential: a read
// behind the stream restarts it); a Fortran-ordered array is rearranged into C order,
// and a stored big-endian one byte-swapped, in memory.
// Bytes after an array's data are ignored, as numpy ignores them.
//
// Invariants. Open checks that every header parses, that every shape is
// non-negative and its size in bytes fits in an int64, that every array's data
// lies inside its zip entry and every entry inside the file, that no two entries
// share a name, and that a deflated entry declares no more than deflate can
// produce from its compressed size. A header is at most MaxHeaderLen bytes and
// nothing is allocated from a length before that length is checked against the
// bytes that remain. Malformed bytes give a *ckpt.FormatError, something valid
// but not read an *ckpt.UnsupportedError, an unknown name a *ckpt.NotFoundError,
// each naming the file and, in an .npz, the array, and each wrapping one of this
// package's sentinel errors for errors.Is. No input makes the reader panic
// (FuzzOpen checks this). A corrupt deflate stream or CRC-32 is found when the
// array is read, and reported by Tensor as a FormatError wrapping ErrCorrupt.
package numpy
