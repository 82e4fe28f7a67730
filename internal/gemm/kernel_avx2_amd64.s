//go:build !purego

#include "textflag.h"

// AVX2 + FMA micro-kernels for CPUs without AVX-512: the scheme of the
// AVX-512 kernels (see kernel_avx512_amd64.s) in the 16 ymm registers, with
// 6-row tiles.
//
// Register use, in both kernels:
//   CX          k steps left (the unrolled loop counts groups of 4 in BX)
//   SI          packed A sliver, 6 values per k step
//   DI          packed B sliver, one row of the tile per k step
//   DX          C, the current row; R8 is ldc in bytes
//   Y0–Y11      accumulators: row r in Y(2r) (left half) and Y(2r+1) (right half)
//   Y12, Y13    the current k step's row of B
//   Y14         the current A value, broadcast to every lane
//
// Arguments (ABI0): k+0, a+8, b+32, c+56 (slices: base, len, cap), ldc+80,
// acc+88 (when set, C += tile; else C = tile).

// ROWS(off, lo, hi): broadcast the A value at off(SI) and accumulate it times
// the B row (Y12, Y13) into the row's accumulators lo and hi (float32).
#define ROWS(off, lo, hi) \
	VBROADCASTSS off(SI), Y14; \
	VFMADD231PS  Y12, Y14, lo; \
	VFMADD231PS  Y13, Y14, hi

// STEPS(ao, bo): one float32 k step, A at ao(SI) (6×4 bytes), B at bo(DI)
// (16×4 bytes).
#define STEPS(ao, bo) \
	VMOVUPS bo(DI), Y12; \
	VMOVUPS bo+32(DI), Y13; \
	ROWS(ao+0, Y0, Y1); \
	ROWS(ao+4, Y2, Y3); \
	ROWS(ao+8, Y4, Y5); \
	ROWS(ao+12, Y6, Y7); \
	ROWS(ao+16, Y8, Y9); \
	ROWS(ao+20, Y10, Y11)

// ROWD and STEPD are ROWS and STEPS for float64: A values are 8 bytes, the B
// row is 8 values (2×4).
#define ROWD(off, lo, hi) \
	VBROADCASTSD off(SI), Y14; \
	VFMADD231PD  Y12, Y14, lo; \
	VFMADD231PD  Y13, Y14, hi

#define STEPD(ao, bo) \
	VMOVUPD bo(DI), Y12; \
	VMOVUPD bo+32(DI), Y13; \
	ROWD(ao+0, Y0, Y1); \
	ROWD(ao+8, Y2, Y3); \
	ROWD(ao+16, Y4, Y5); \
	ROWD(ao+24, Y6, Y7); \
	ROWD(ao+32, Y8, Y9); \
	ROWD(ao+40, Y10, Y11)

// ZERO12 clears the 12 accumulators.
#define ZERO12 \
	VXORPS Y0, Y0, Y0; VXORPS Y1, Y1, Y1; VXORPS Y2, Y2, Y2; VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; VXORPS Y5, Y5, Y5; VXORPS Y6, Y6, Y6; VXORPS Y7, Y7, Y7; \
	VXORPS Y8, Y8, Y8; VXORPS Y9, Y9, Y9; VXORPS Y10, Y10, Y10; VXORPS Y11, Y11, Y11

// PUT(lo, hi) stores one row's accumulators to C and moves DX to the next
// row; ADD(op, lo, hi) first adds C's row to them (op is VADDPS or VADDPD).
#define PUT(lo, hi) \
	VMOVUPS lo, (DX); \
	VMOVUPS hi, 32(DX); \
	ADDQ    R8, DX

#define ADD(op, lo, hi) \
	op      (DX), lo, lo; \
	op      32(DX), hi, hi; \
	PUT(lo, hi)

#define PUT6 \
	PUT(Y0, Y1); PUT(Y2, Y3); PUT(Y4, Y5); PUT(Y6, Y7); PUT(Y8, Y9); PUT(Y10, Y11)

#define ADD6(op) \
	ADD(op, Y0, Y1); ADD(op, Y2, Y3); ADD(op, Y4, Y5); \
	ADD(op, Y6, Y7); ADD(op, Y8, Y9); ADD(op, Y10, Y11)

// PROLOGUE loads the arguments, clears the accumulators and splits k into
// BX groups of 4 steps and CX single steps.
#define PROLOGUE \
	MOVQ k+0(FP), CX; \
	MOVQ a_base+8(FP), SI; \
	MOVQ b_base+32(FP), DI; \
	MOVQ c_base+56(FP), DX; \
	MOVQ ldc+80(FP), R8; \
	ZERO12; \
	MOVQ CX, BX; \
	SHRQ $2, BX; \
	ANDQ $3, CX

// func sgemm6x16AVX2(k int, a, b, c []float32, ldc int, acc bool)
TEXT ·sgemm6x16AVX2(SB), NOSPLIT, $0-89
	PROLOGUE
	SHLQ $2, R8 // ldc in bytes
	TESTQ BX, BX
	JZ   s_tail

s_loop4:
	STEPS(0, 0)
	STEPS(24, 64)
	STEPS(48, 128)
	STEPS(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  s_loop4

s_tail:
	TESTQ CX, CX
	JZ   s_store

s_loop1:
	STEPS(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  s_loop1

s_store:
	CMPB acc+88(FP), $0
	JNE  s_add
	PUT6
	VZEROUPPER
	RET

s_add:
	ADD6(VADDPS)
	VZEROUPPER
	RET

// func dgemm6x8AVX2(k int, a, b, c []float64, ldc int, acc bool)
TEXT ·dgemm6x8AVX2(SB), NOSPLIT, $0-89
	PROLOGUE
	SHLQ $3, R8 // ldc in bytes
	TESTQ BX, BX
	JZ   d_tail

d_loop4:
	STEPD(0, 0)
	STEPD(48, 64)
	STEPD(96, 128)
	STEPD(144, 192)
	ADDQ $192, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  d_loop4

d_tail:
	TESTQ CX, CX
	JZ   d_store

d_loop1:
	STEPD(0, 0)
	ADDQ $48, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  d_loop1

d_store:
	CMPB acc+88(FP), $0
	JNE  d_add
	PUT6
	VZEROUPPER
	RET

d_add:
	ADD6(VADDPD)
	VZEROUPPER
	RET
