//go:build !amd64 || purego

package nn

// Without the amd64 kernel every product goes through gonum's level-1 routines.
var useKernel = false

func kern4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int) {
	panic("nn: no 4x16 kernel on this platform")
}

func kern4x16g(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int) {
	panic("nn: no 4x16 kernel on this platform")
}

func kern6x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int) {
	panic("nn: no 6x16 kernel on this platform")
}

func kern6x16g(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int) {
	panic("nn: no 6x16 kernel on this platform")
}

func kern4x16x(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, bias *float32, relu int) {
	panic("nn: no 4x16 kernel on this platform")
}

func kern4x16gx(k int, a *float32, lda int, b *float32, offs *int32, c *float32, ldc int, bias *float32, relu int) {
	panic("nn: no 4x16 kernel on this platform")
}
