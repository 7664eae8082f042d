//go:build amd64 && !purego

#include "textflag.h"

// The 4x16 kernels: C[0:4, 0:16] = act(A[0:4, 0:k] · B[0:k, 0:16] + bias[0:4]), act
// being relu when relu != 0 (NaN stays NaN) and the identity otherwise. Eight YMM
// registers accumulate the tile; for each l the kernel loads the 16 values of B's row l
// (two YMM) and, for each of the 4 rows of A, broadcasts A[r, l] and adds the products
// with FMA. kern4x16 finds row l of B at b + l·ldb; kern4x16g at b + offs[l] (elements),
// which lets a convolution read its input planes in place of an im2col matrix.

// Arguments shared by both kernels (ABI0, 8 bytes each).
#define K       k+0(FP)
#define A       a+8(FP)
#define LDA     lda+16(FP)
#define B       b+24(FP)
#define C       c+40(FP)
#define LDC     ldc+48(FP)
#define BIAS    bias+56(FP)
#define RELU    relu+64(FP)

// SETUP loads k into CX, the four row pointers of A into SI, R11, R12, R13 (read at
// byte offset DX, which starts at 0), B into DI, and zeroes the accumulators Y0..Y7.
#define SETUP \
	MOVQ K, CX \
	MOVQ A, SI \
	MOVQ LDA, R8 \
	SHLQ $2, R8 \
	MOVQ B, DI \
	LEAQ (SI)(R8*1), R11 \
	LEAQ (SI)(R8*2), R12 \
	LEAQ (R11)(R8*2), R13 \
	XORQ DX, DX \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

// FMAS(off) multiplies the B row in Y8, Y9 by the four A values at byte offset
// DX+off of the A rows.
#define FMAS(off) \
	VBROADCASTSS off(SI)(DX*1), Y10 \
	VFMADD231PS  Y8, Y10, Y0 \
	VFMADD231PS  Y9, Y10, Y1 \
	VBROADCASTSS off(R11)(DX*1), Y11 \
	VFMADD231PS  Y8, Y11, Y2 \
	VFMADD231PS  Y9, Y11, Y3 \
	VBROADCASTSS off(R12)(DX*1), Y12 \
	VFMADD231PS  Y8, Y12, Y4 \
	VFMADD231PS  Y9, Y12, Y5 \
	VBROADCASTSS off(R13)(DX*1), Y13 \
	VFMADD231PS  Y8, Y13, Y6 \
	VFMADD231PS  Y9, Y13, Y7

// BIAS4 adds bias[r] to row r.
#define BIAS4 \
	MOVQ         BIAS, AX \
	VBROADCASTSS (AX), Y10 \
	VADDPS       Y10, Y0, Y0 \
	VADDPS       Y10, Y1, Y1 \
	VBROADCASTSS 4(AX), Y11 \
	VADDPS       Y11, Y2, Y2 \
	VADDPS       Y11, Y3, Y3 \
	VBROADCASTSS 8(AX), Y12 \
	VADDPS       Y12, Y4, Y4 \
	VADDPS       Y12, Y5, Y5 \
	VBROADCASTSS 12(AX), Y13 \
	VADDPS       Y13, Y6, Y6 \
	VADDPS       Y13, Y7, Y7

// RELU8 clamps the accumulators at 0. VMAXPS returns its second source (the value)
// when either is NaN, so NaN passes through as in PyTorch.
#define RELU8 \
	VXORPS Y15, Y15, Y15 \
	VMAXPS Y0, Y15, Y0 \
	VMAXPS Y1, Y15, Y1 \
	VMAXPS Y2, Y15, Y2 \
	VMAXPS Y3, Y15, Y3 \
	VMAXPS Y4, Y15, Y4 \
	VMAXPS Y5, Y15, Y5 \
	VMAXPS Y6, Y15, Y6 \
	VMAXPS Y7, Y15, Y7

// STORE writes the tile to C.
#define STORE \
	MOVQ    C, DX \
	MOVQ    LDC, R10 \
	SHLQ    $2, R10 \
	VMOVUPS Y0, (DX) \
	VMOVUPS Y1, 32(DX) \
	ADDQ    R10, DX \
	VMOVUPS Y2, (DX) \
	VMOVUPS Y3, 32(DX) \
	ADDQ    R10, DX \
	VMOVUPS Y4, (DX) \
	VMOVUPS Y5, 32(DX) \
	ADDQ    R10, DX \
	VMOVUPS Y6, (DX) \
	VMOVUPS Y7, 32(DX) \
	VZEROUPPER

// The loops go two values of l at a time (one pointer update per pair), then
// finish an odd k with one more.

// func kern4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int)
TEXT ·kern4x16(SB), NOSPLIT, $0-72
	SETUP
	MOVQ ldb+32(FP), R9
	SHLQ $2, R9
	SUBQ $2, CX
	JLT  tail

loop:
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	FMAS(0)
	VMOVUPS (DI)(R9*1), Y8
	VMOVUPS 32(DI)(R9*1), Y9
	FMAS(4)
	LEAQ    (DI)(R9*2), DI
	ADDQ    $8, DX
	SUBQ    $2, CX
	JGE     loop

tail:
	CMPQ CX, $-1
	JNE  epilogue
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	FMAS(0)

epilogue:
	BIAS4
	MOVQ  RELU, BX
	TESTQ BX, BX
	JZ    store
	RELU8

store:
	STORE
	RET

// func kern4x16g(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int)
TEXT ·kern4x16g(SB), NOSPLIT, $0-72
	SETUP
	MOVQ offs+32(FP), BX
	SUBQ $2, CX
	JLT  tail

loop:
	MOVLQSX (BX), AX
	MOVLQSX 4(BX), R9
	VMOVUPS (DI)(AX*4), Y8
	VMOVUPS 32(DI)(AX*4), Y9
	FMAS(0)
	VMOVUPS (DI)(R9*4), Y8
	VMOVUPS 32(DI)(R9*4), Y9
	FMAS(4)
	ADDQ    $8, BX
	ADDQ    $8, DX
	SUBQ    $2, CX
	JGE     loop

tail:
	CMPQ CX, $-1
	JNE  epilogue
	MOVLQSX (BX), AX
	VMOVUPS (DI)(AX*4), Y8
	VMOVUPS 32(DI)(AX*4), Y9
	FMAS(0)

epilogue:
	BIAS4
	MOVQ  RELU, BX
	TESTQ BX, BX
	JZ    store
	RELU8

store:
	STORE
	RET

// The exact 4x16 kernels (nn's exact mode): the same tile with every product rounded
// to float32 before it is added (VMULPS then VADDPS, no FMA), which is what a plain Go
// loop computes, so that they give the bits of the portable path. Y14 and Y15 hold
// the products.
#define MULADDS(off) \
	VBROADCASTSS off(SI)(DX*1), Y10 \
	VMULPS       Y8, Y10, Y14 \
	VADDPS       Y14, Y0, Y0 \
	VMULPS       Y9, Y10, Y15 \
	VADDPS       Y15, Y1, Y1 \
	VBROADCASTSS off(R11)(DX*1), Y11 \
	VMULPS       Y8, Y11, Y14 \
	VADDPS       Y14, Y2, Y2 \
	VMULPS       Y9, Y11, Y15 \
	VADDPS       Y15, Y3, Y3 \
	VBROADCASTSS off(R12)(DX*1), Y12 \
	VMULPS       Y8, Y12, Y14 \
	VADDPS       Y14, Y4, Y4 \
	VMULPS       Y9, Y12, Y15 \
	VADDPS       Y15, Y5, Y5 \
	VBROADCASTSS off(R13)(DX*1), Y13 \
	VMULPS       Y8, Y13, Y14 \
	VADDPS       Y14, Y6, Y6 \
	VMULPS       Y9, Y13, Y15 \
	VADDPS       Y15, Y7, Y7

// func kern4x16x(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int)
TEXT ·kern4x16x(SB), NOSPLIT, $0-72
	SETUP
	MOVQ ldb+32(FP), R9
	SHLQ $2, R9
	SUBQ $2, CX
	JLT  tail

loop:
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	MULADDS(0)
	VMOVUPS (DI)(R9*1), Y8
	VMOVUPS 32(DI)(R9*1), Y9
	MULADDS(4)
	LEAQ    (DI)(R9*2), DI
	ADDQ    $8, DX
	SUBQ    $2, CX
	JGE     loop

tail:
	CMPQ CX, $-1
	JNE  epilogue
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	MULADDS(0)

epilogue:
	BIAS4
	MOVQ  RELU, BX
	TESTQ BX, BX
	JZ    store
	RELU8

store:
	STORE
	RET

// func kern4x16gx(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int)
TEXT ·kern4x16gx(SB), NOSPLIT, $0-72
	SETUP
	MOVQ offs+32(FP), BX
	SUBQ $2, CX
	JLT  tail

loop:
	MOVLQSX (BX), AX
	MOVLQSX 4(BX), R9
	VMOVUPS (DI)(AX*4), Y8
	VMOVUPS 32(DI)(AX*4), Y9
	MULADDS(0)
	VMOVUPS (DI)(R9*4), Y8
	VMOVUPS 32(DI)(R9*4), Y9
	MULADDS(4)
	ADDQ    $8, BX
	ADDQ    $8, DX
	SUBQ    $2, CX
	JGE     loop

tail:
	CMPQ CX, $-1
	JNE  epilogue
	MOVLQSX (BX), AX
	VMOVUPS (DI)(AX*4), Y8
	VMOVUPS 32(DI)(AX*4), Y9
	MULADDS(0)

epilogue:
	BIAS4
	MOVQ  RELU, BX
	TESTQ BX, BX
	JZ    store
	RELU8

store:
	STORE
	RET

// The 6x16 kernels: the same with six rows of A and twelve accumulators, Y0..Y11.
// Rows 0..2 of A are read from SI, rows 3..5 from R13 (= SI + 3·lda), each at 0, lda
// and 2·lda bytes; both pointers move on by 4 bytes per l.

#define SETUP6 \
	MOVQ K, CX \
	MOVQ A, SI \
	MOVQ LDA, R8 \
	SHLQ $2, R8 \
	MOVQ B, DI \
	LEAQ (R8)(R8*2), R13 \
	ADDQ SI, R13 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11

// FMAS6(off) multiplies the B row in Y12, Y13 by the six A values at byte offset off.
#define FMAS6(off) \
	VBROADCASTSS off(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y0 \
	VFMADD231PS  Y13, Y14, Y1 \
	VBROADCASTSS off(SI)(R8*1), Y15 \
	VFMADD231PS  Y12, Y15, Y2 \
	VFMADD231PS  Y13, Y15, Y3 \
	VBROADCASTSS off(SI)(R8*2), Y14 \
	VFMADD231PS  Y12, Y14, Y4 \
	VFMADD231PS  Y13, Y14, Y5 \
	VBROADCASTSS off(R13), Y15 \
	VFMADD231PS  Y12, Y15, Y6 \
	VFMADD231PS  Y13, Y15, Y7 \
	VBROADCASTSS off(R13)(R8*1), Y14 \
	VFMADD231PS  Y12, Y14, Y8 \
	VFMADD231PS  Y13, Y14, Y9 \
	VBROADCASTSS off(R13)(R8*2), Y15 \
	VFMADD231PS  Y12, Y15, Y10 \
	VFMADD231PS  Y13, Y15, Y11

#define BIAS6ROW(off, lo, hi) \
	VBROADCASTSS off(AX), Y14 \
	VADDPS       Y14, lo, lo \
	VADDPS       Y14, hi, hi

#define BIAS6 \
	MOVQ BIAS, AX \
	BIAS6ROW(0, Y0, Y1) \
	BIAS6ROW(4, Y2, Y3) \
	BIAS6ROW(8, Y4, Y5) \
	BIAS6ROW(12, Y6, Y7) \
	BIAS6ROW(16, Y8, Y9) \
	BIAS6ROW(20, Y10, Y11)

#define RELU12 \
	VXORPS Y14, Y14, Y14 \
	VMAXPS Y0, Y14, Y0 \
	VMAXPS Y1, Y14, Y1 \
	VMAXPS Y2, Y14, Y2 \
	VMAXPS Y3, Y14, Y3 \
	VMAXPS Y4, Y14, Y4 \
	VMAXPS Y5, Y14, Y5 \
	VMAXPS Y6, Y14, Y6 \
	VMAXPS Y7, Y14, Y7 \
	VMAXPS Y8, Y14, Y8 \
	VMAXPS Y9, Y14, Y9 \
	VMAXPS Y10, Y14, Y10 \
	VMAXPS Y11, Y14, Y11

#define STORE6 \
	MOVQ    C, DX \
	MOVQ    LDC, R10 \
	SHLQ    $2, R10 \
	VMOVUPS Y0, (DX) \
	VMOVUPS Y1, 32(DX) \
	ADDQ    R10, DX \
	VMOVUPS Y2, (DX) \
	VMOVUPS Y3, 32(DX) \
	ADDQ    R10, DX \
	VMOVUPS Y4, (DX) \
	VMOVUPS Y5, 32(DX) \
	ADDQ    R10, DX \
	VMOVUPS Y6, (DX) \
	VMOVUPS Y7, 32(DX) \
	ADDQ    R10, DX \
	VMOVUPS Y8, (DX) \
	VMOVUPS Y9, 32(DX) \
	ADDQ    R10, DX \
	VMOVUPS Y10, (DX) \
	VMOVUPS Y11, 32(DX) \
	VZEROUPPER

// func kern6x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int)
TEXT ·kern6x16(SB), NOSPLIT, $0-72
	SETUP6
	MOVQ ldb+32(FP), R9
	SHLQ $2, R9
	SUBQ $2, CX
	JLT  tail

loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	FMAS6(0)
	VMOVUPS (DI)(R9*1), Y12
	VMOVUPS 32(DI)(R9*1), Y13
	FMAS6(4)
	LEAQ    (DI)(R9*2), DI
	ADDQ    $8, SI
	ADDQ    $8, R13
	SUBQ    $2, CX
	JGE     loop

tail:
	CMPQ CX, $-1
	JNE  epilogue
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	FMAS6(0)

epilogue:
	BIAS6
	MOVQ  RELU, BX
	TESTQ BX, BX
	JZ    store
	RELU12

store:
	STORE6
	RET

// func kern6x16g(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int)
TEXT ·kern6x16g(SB), NOSPLIT, $0-72
	SETUP6
	MOVQ offs+32(FP), BX
	SUBQ $2, CX
	JLT  tail

loop:
	MOVLQSX (BX), AX
	MOVLQSX 4(BX), R9
	VMOVUPS (DI)(AX*4), Y12
	VMOVUPS 32(DI)(AX*4), Y13
	FMAS6(0)
	VMOVUPS (DI)(R9*4), Y12
	VMOVUPS 32(DI)(R9*4), Y13
	FMAS6(4)
	ADDQ    $8, BX
	ADDQ    $8, SI
	ADDQ    $8, R13
	SUBQ    $2, CX
	JGE     loop

tail:
	CMPQ CX, $-1
	JNE  epilogue
	MOVLQSX (BX), AX
	VMOVUPS (DI)(AX*4), Y12
	VMOVUPS 32(DI)(AX*4), Y13
	FMAS6(0)

epilogue:
	BIAS6
	MOVQ  RELU, BX
	TESTQ BX, BX
	JZ    store
	RELU12

store:
	STORE6
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
