//go:build amd64 && !purego

package nn

// kern4x16 sets C[0:4, 0:16] = act(A[0:4, 0:k] · B[0:k, 0:16] + bias[0:4]) with AVX
// and FMA; act is relu when relu != 0. lda, ldb, ldc count elements; k ≥ 1.
// Implemented in kernel_amd64.s.
//
//go:noescape
func kern4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int)

// kern4x16g is kern4x16 with row l of B at b + offs[l] elements.
//
//go:noescape
func kern4x16g(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int)

// kern6x16 and kern6x16g are kern4x16 and kern4x16g for six rows of A and C.
//
//go:noescape
func kern6x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int)

//go:noescape
func kern6x16g(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int)

// kern4x16x and kern4x16gx are kern4x16 and kern4x16g with each product rounded
// before it is added (no FMA): the exact mode's kernels.
//
//go:noescape
func kern4x16x(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int)

//go:noescape
func kern4x16gx(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// detectFMA reports whether the CPU and the OS support AVX and FMA3 (CPUID leaf 1:
// FMA, OSXSAVE and AVX bits; XCR0: the OS saves the XMM and YMM state).
func detectFMA() bool {
	_, _, c, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if c&fma == 0 || c&osxsave == 0 || c&avx == 0 {
		return false
	}
	xcr0, _ := xgetbv()
	return xcr0&6 == 6
}

// useKernel selects the assembly kernels; tests switch it off to run the portable path.
var useKernel = detectFMA()
