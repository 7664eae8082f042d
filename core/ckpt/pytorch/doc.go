// Package pytorch reads checkpoints written by torch.save, without Python and
// without executing anything the file names.
//
// It reads the three containers torch.save has used:
//
//   - the zip archive of torch >= 1.6: <folder>/data.pkl and one record
//     <folder>/data/<key> per storage, whatever the folder is called;
//   - the legacy stream (torch < 1.6, or _use_new_zipfile_serialization=False),
//     which starts with the pickled magic number 0x1950a86a20f9469cfc6c;
//   - the tar archive of torch before 0.1.10 (members sys_info, pickle,
//     storages and tensors).
//
// The pickle is unpickled by github.com/nlpodyssey/gopickle with a class
// resolver that imports nothing: torch's rebuild functions
// (torch._utils._rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3,
// _rebuild_parameter, _rebuild_parameter_with_state) and storage classes
// (FloatStorage ... BoolStorage, UntypedStorage) are recognised, and every other
// global becomes an inert object that only records its arguments and state.
// That is how a whole pickled nn.Module is read: its _parameters, persistent
// _buffers and _modules give the names nn.Module.state_dict would.
//
// Which tensors a file holds is decided as follows. A dict with tensor values
// is the state dict. A dict without any, such as a training checkpoint
// {model_state_dict, optimizer_state_dict, epoch, loss}, is searched for a
// dict or module under "state_dict", "model_state_dict" or "model", in that
// order; if none is there, the whole dict is used. Nested dicts, lists and
// modules are flattened with dots ("encoder.0.weight"), values that are not
// tensors are skipped, and a file holding a single bare tensor names it
// "tensor". Tensors are listed in the order the pickle's dicts hold them.
//
// Element types map from storage types: FloatStorage F32, DoubleStorage F64,
// HalfStorage F16, BFloat16Storage BF16, LongStorage I64, IntStorage I32,
// ShortStorage I16, CharStorage I8, ByteStorage U8, BoolStorage BOOL (and,
// for _rebuild_tensor_v3, torch.uint16/32/64 and the float8 types).
//
// Reading is lazy. Open reads the zip directory (or walks the legacy and tar
// headers) and the pickle, and records where each storage's bytes are; it
// reads no tensor data. Tensor reads one tensor when asked: a contiguous
// little-endian tensor stored uncompressed, which is what torch writes, is
// returned as a window on the caller's io.ReaderAt, with no copy; a strided
// view (a transposed or Fortran-ordered tensor, an expanded one), a
// big-endian file or a compressed zip record is read and rearranged into the
// safetensors layout (C order, little-endian) in memory.
//
// Invariants. Every tensor of a Source lies inside its storage (storage
// offset plus the extent of its strides), every storage lies inside the file,
// and no shape overflows int64; these are checked by Open. Opening or reading
// a malformed or hostile file returns a *ckpt.FormatError, an unsupported
// construct a *ckpt.UnsupportedError, and an unknown name a *ckpt.NotFoundError,
// each naming the file and, where it applies, the tensor; no panic escapes
// (gopickle's panics on malformed pickles are recovered), and no message
// prints a pickled value whole.
//
// Memory and time follow the size of the file plus its largest tensor,
// whatever the pickle says. The pickle budget (budget.go) bounds each pickle
// stream: at most 256 MiB; a compressed data.pkl is inflated only as far as
// 32 times its compressed size (or 256 KiB), and reading stops there. Before
// gopickle runs, a pre-scan (simulate.go) checks every length argument
// against the bytes that remain, keeps gopickle's stack (at most 2^20
// values), MARKs (4,096 nested) and memo (2^20 entries) as kinds of values,
// refuses an opcode applied to what cannot take it (REDUCE on a string), and
// estimates what unpickling allocates; that estimate, plus what the class
// hooks copy and what naming the tensors costs, may not exceed 128 bytes per
// byte of pickle plus 8 MiB (2 GiB in all; torch.save pickles cost 25 to 50).
// The walk that names the tensors skips containers already found to hold
// none, so it is linear in the pickle, not in what its references expand to,
// and it cuts reference cycles. Refusals under the budget are FormatErrors of
// kind ErrBudget. An expanded (zero-stride) view is built only up to 64 MiB.
//
// A compressed storage (torch never writes one; a re-zipped archive may) is
// inflated once per pass, not once per view: one up to 64 MiB (or the largest
// tensor) is kept whole while its views are read, a larger one is streamed,
// its views served in storage order; a record cannot claim more than deflate
// can expand it to. Reading views in an order that would inflate the
// compressed storages more than 8 times over (a large storage's views
// backwards, or alternating between storages) is refused with an
// UnsupportedError that says to save the file again.
//
// Not read: TorchScript archives (torch.jit.save), complex, quantized, sparse,
// nested and meta tensors, and plain pickles not written by torch.save. These
// give an UnsupportedError (or a FormatError for files that are not torch.save
// files at all).
package pytorch
