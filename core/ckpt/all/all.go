// Package all registers every checkpoint format Ladle reads with ckpt.Open.
// Import it for its side effect: import _ "ladle/core/ckpt/all".
package all

import (
	_ "ladle/core/ckpt/gguf"        // GGUF files (llama.cpp), unquantized tensors
	_ "ladle/core/ckpt/numpy"       // numpy .npy arrays and .npz archives
	_ "ladle/core/ckpt/pytorch"     // torch.save files: zip, legacy and tar
	_ "ladle/core/ckpt/safetensors" // safetensors files and sharded indexes
)
