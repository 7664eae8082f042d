//go:build !unix

package plan

import "io"

// mapTensor is unavailable here (wasm, windows): inputs are read into buffers.
func mapTensor(r io.ReaderAt, n int64) (data []byte, release func(), file string, ok bool) {
	return nil, nil, "", false
}
