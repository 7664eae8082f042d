package tensor

// RNG is Ladle's counter-based random generator. A draw is a pure function of
// (seed, model, tensor name, element index): there is no state to share, so any element
// can be drawn in any order, by any number of goroutines, natively or in wasm, and the
// result is always the same.
//
// The construction is a stable contract (recipes promise reproducible merges for a
// seed; changing any constant here breaks that promise):
//
//	mix(z):   z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
//	          z = (z ^ z>>27) * 0x94d049bb133111eb
//	          return z ^ z>>31                      (SplitMix64's finaliser, mod 2^64)
//	fnv(s):   FNV-1a 64 of the UTF-8 bytes of s
//	          (offset 0xcbf29ce484222325, prime 0x100000001b3)
//	key     = mix(mix(mix(seed ^ 0x6c61646c652d726e) ^ uint64(int64(model))) ^ fnv(name))
//	          (0x6c61646c652d726e is "ladle-rn" in ASCII: a domain separator)
//	Uint64(i) = mix(key + (uint64(i)+1) * 0x9e3779b97f4a7c15)
//	          (the (i+1)-th output of SplitMix64 seeded with key)
//	Float64(i) = float64(Uint64(i) >> 11) * 2^-53   (uniform on [0, 1), 53 bits)
//
// mix is a bijection, so distinct models (for the same seed and name) get distinct keys,
// and the 64-bit name hash separates tensors. Two streams collide only if their keys
// differ by a multiple of the golden-ratio increment smaller than the tensor size, a
// chance of about numel·2^-64.
type RNG struct{ key uint64 }

const (
	rngDomain = 0x6c61646c652d726e
	golden    = 0x9e3779b97f4a7c15
	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
)

// Mix64 is SplitMix64's finaliser, the bijective 64-bit mixing function RNG is built on.
func Mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// FNV1a64 is the 64-bit FNV-1a hash of s's bytes.
func FNV1a64(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// NewRNG returns the generator for one model's copy of one tensor.
func NewRNG(seed uint64, model int, tensor string) RNG {
	k := Mix64(seed ^ rngDomain)
	k = Mix64(k ^ uint64(int64(model)))
	k = Mix64(k ^ FNV1a64(tensor))
	return RNG{key: k}
}

// Key is the 64-bit stream key (for documentation and cross-implementation tests).
func (r RNG) Key() uint64 { return r.key }

// Uint64 is the 64-bit draw for element i.
func (r RNG) Uint64(i int64) uint64 {
	return Mix64(r.key + (uint64(i)+1)*golden)
}

// Float64 is the uniform draw in [0, 1) for element i.
func (r RNG) Float64(i int64) float64 {
	// The product is exact (a power of two); the conversion only keeps a caller's
	// 1 − Float64(i) from compiling to a fused multiply-subtract.
	return float64(float64(r.Uint64(i)>>11) * (1.0 / (1 << 53)))
}
