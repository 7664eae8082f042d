// Package safetensors reads and writes the safetensors checkpoint format, single
// files and sharded checkpoints (*.safetensors.index.json).
//
// A file is an 8-byte little-endian header length N, N bytes of JSON, then the
// tensors' data. The JSON maps each tensor name to {"dtype", "shape",
// "data_offsets": [begin, end]} (offsets relative to the end of the header) and may
// hold a "__metadata__" map of strings.
//
// Reading. Open parses only the header; each tensor's bytes are read when asked for,
// through an io.SectionReader over the caller's io.ReaderAt, so a reader never holds
// more than the header in memory. Open validates the header as the format's
// reference implementation does, and more:
//
//   - the header is at most MaxHeaderSize bytes and lies inside the file;
//   - it is valid JSON, an object, with no duplicate tensor names;
//   - each entry's fields are exactly "dtype", "shape" and "data_offsets", matched
//     case-sensitively and each at most once (ErrDuplicateField), as the reference
//     implementation reads them; other fields are skipped; a __metadata__ key
//     appears at most once too. (encoding/json would take "DTYPE" for "dtype" and
//     let a repeated field win, so the header is read by a small strict scanner);
//   - every dtype is known (else an *ckpt.UnsupportedError wrapping ErrUnknownDType);
//   - every shape is non-negative and its product does not overflow;
//   - every span end-begin equals the number of elements times the dtype's size;
//   - sorted by offset, the spans start at 0, are contiguous and non-overlapping, and
//     the last one ends exactly at the end of the file.
//
// Every violation is a *ckpt.FormatError that names the file and, where it applies,
// the tensor, and wraps one of this package's sentinel errors for errors.Is. No input
// makes Open panic (FuzzOpen checks this).
//
// Writing. NewWriter writes the header at once from the declared list of tensors, then
// takes their data in that order, so a merge can stream tensor by tensor to any
// io.Writer. The header is padded with spaces so that data starts at a multiple of 8
// bytes, metadata keys are sorted, and the same tensors and metadata always give the
// same bytes. ShardedWriter splits a checkpoint across files no larger than a
// maximum (a single tensor larger than the maximum gets a shard of its own) and writes
// the index that OpenIndex reads.
package safetensors
