//go:build !purego

#include "textflag.h"

// AVX-512 micro-kernels. Each computes a 12-row tile of C as a sum of rank-1
// updates, one per k step: the step's 12 values of packed A (one per row) are
// broadcast in turn, the step's row of packed B is held in two zmm registers,
// and every row's two accumulators take one fused multiply-add each.
//
// Register use, in both kernels:
//   CX          k steps left (the unrolled loop counts groups of 4 in BX)
//   SI          packed A sliver, 12 values per k step
//   DI          packed B sliver, one row of the tile per k step
//   DX          C, the current row; R8 is ldc in bytes
//   Z0–Z23      accumulators: row r in Z(2r) (left half) and Z(2r+1) (right half)
//   Z24, Z25    the current k step's row of B
//   Z26         the current A value, broadcast to every lane
//
// Arguments (ABI0): k+0, a+8, b+32, c+56 (slices: base, len, cap), ldc+80,
// acc+88 (when set, C += tile; else C = tile).

// ROWS(off, lo, hi): broadcast the A value at off(SI) and accumulate it times
// the B row (Z24, Z25) into the row's accumulators lo and hi (float32).
#define ROWS(off, lo, hi) \
	VBROADCASTSS off(SI), Z26; \
	VFMADD231PS  Z24, Z26, lo; \
	VFMADD231PS  Z25, Z26, hi

// STEPS(ao, bo): one float32 k step, A at ao(SI) (12×4 bytes), B at bo(DI)
// (32×4 bytes).
#define STEPS(ao, bo) \
	VMOVUPS bo(DI), Z24; \
	VMOVUPS bo+64(DI), Z25; \
	ROWS(ao+0, Z0, Z1); \
	ROWS(ao+4, Z2, Z3); \
	ROWS(ao+8, Z4, Z5); \
	ROWS(ao+12, Z6, Z7); \
	ROWS(ao+16, Z8, Z9); \
	ROWS(ao+20, Z10, Z11); \
	ROWS(ao+24, Z12, Z13); \
	ROWS(ao+28, Z14, Z15); \
	ROWS(ao+32, Z16, Z17); \
	ROWS(ao+36, Z18, Z19); \
	ROWS(ao+40, Z20, Z21); \
	ROWS(ao+44, Z22, Z23)

// ROWD and STEPD are ROWS and STEPS for float64: A values are 8 bytes, the B
// row is 16 values (2×8).
#define ROWD(off, lo, hi) \
	VBROADCASTSD off(SI), Z26; \
	VFMADD231PD  Z24, Z26, lo; \
	VFMADD231PD  Z25, Z26, hi

#define STEPD(ao, bo) \
	VMOVUPD bo(DI), Z24; \
	VMOVUPD bo+64(DI), Z25; \
	ROWD(ao+0, Z0, Z1); \
	ROWD(ao+8, Z2, Z3); \
	ROWD(ao+16, Z4, Z5); \
	ROWD(ao+24, Z6, Z7); \
	ROWD(ao+32, Z8, Z9); \
	ROWD(ao+40, Z10, Z11); \
	ROWD(ao+48, Z12, Z13); \
	ROWD(ao+56, Z14, Z15); \
	ROWD(ao+64, Z16, Z17); \
	ROWD(ao+72, Z18, Z19); \
	ROWD(ao+80, Z20, Z21); \
	ROWD(ao+88, Z22, Z23)

// ZERO24 clears the 24 accumulators.
#define ZERO24 \
	VPXORD Z0, Z0, Z0; VPXORD Z1, Z1, Z1; VPXORD Z2, Z2, Z2; VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; VPXORD Z5, Z5, Z5; VPXORD Z6, Z6, Z6; VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; VPXORD Z9, Z9, Z9; VPXORD Z10, Z10, Z10; VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; VPXORD Z13, Z13, Z13; VPXORD Z14, Z14, Z14; VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; VPXORD Z17, Z17, Z17; VPXORD Z18, Z18, Z18; VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; VPXORD Z21, Z21, Z21; VPXORD Z22, Z22, Z22; VPXORD Z23, Z23, Z23

// PUT(lo, hi) stores one row's accumulators to C and moves DX to the next
// row; ADD(op, lo, hi) first adds C's row to them (op is VADDPS or VADDPD).
#define PUT(lo, hi) \
	VMOVUPS lo, (DX); \
	VMOVUPS hi, 64(DX); \
	ADDQ    R8, DX

#define ADD(op, lo, hi) \
	op      (DX), lo, lo; \
	op      64(DX), hi, hi; \
	PUT(lo, hi)

#define PUT12 \
	PUT(Z0, Z1); PUT(Z2, Z3); PUT(Z4, Z5); PUT(Z6, Z7); PUT(Z8, Z9); PUT(Z10, Z11); \
	PUT(Z12, Z13); PUT(Z14, Z15); PUT(Z16, Z17); PUT(Z18, Z19); PUT(Z20, Z21); PUT(Z22, Z23)

#define ADD12(op) \
	ADD(op, Z0, Z1); ADD(op, Z2, Z3); ADD(op, Z4, Z5); ADD(op, Z6, Z7); \
	ADD(op, Z8, Z9); ADD(op, Z10, Z11); ADD(op, Z12, Z13); ADD(op, Z14, Z15); \
	ADD(op, Z16, Z17); ADD(op, Z18, Z19); ADD(op, Z20, Z21); ADD(op, Z22, Z23)

// PROLOGUE loads the arguments, clears the accumulators and splits k into
// BX groups of 4 steps and CX single steps.
#define PROLOGUE \
	MOVQ k+0(FP), CX; \
	MOVQ a_base+8(FP), SI; \
	MOVQ b_base+32(FP), DI; \
	MOVQ c_base+56(FP), DX; \
	MOVQ ldc+80(FP), R8; \
	ZERO24; \
	MOVQ CX, BX; \
	SHRQ $2, BX; \
	ANDQ $3, CX

// func sgemm12x32AVX512(k int, a, b, c []float32, ldc int, acc bool)
TEXT ·sgemm12x32AVX512(SB), NOSPLIT, $0-89
	PROLOGUE
	SHLQ $2, R8 // ldc in bytes
	TESTQ BX, BX
	JZ   s_tail

s_loop4:
	STEPS(0, 0)
	STEPS(48, 128)
	STEPS(96, 256)
	STEPS(144, 384)
	ADDQ $192, SI
	ADDQ $512, DI
	DECQ BX
	JNZ  s_loop4

s_tail:
	TESTQ CX, CX
	JZ   s_store

s_loop1:
	STEPS(0, 0)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  s_loop1

s_store:
	CMPB acc+88(FP), $0
	JNE  s_add
	PUT12
	VZEROUPPER
	RET

s_add:
	ADD12(VADDPS)
	VZEROUPPER
	RET

// func dgemm12x16AVX512(k int, a, b, c []float64, ldc int, acc bool)
TEXT ·dgemm12x16AVX512(SB), NOSPLIT, $0-89
	PROLOGUE
	SHLQ $3, R8 // ldc in bytes
	TESTQ BX, BX
	JZ   d_tail

d_loop4:
	STEPD(0, 0)
	STEPD(96, 128)
	STEPD(192, 256)
	STEPD(288, 384)
	ADDQ $384, SI
	ADDQ $512, DI
	DECQ BX
	JNZ  d_loop4

d_tail:
	TESTQ CX, CX
	JZ   d_store

d_loop1:
	STEPD(0, 0)
	ADDQ $96, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  d_loop1

d_store:
	CMPB acc+88(FP), $0
	JNE  d_add
	PUT12
	VZEROUPPER
	RET

d_add:
	ADD12(VADDPD)
	VZEROUPPER
	RET
