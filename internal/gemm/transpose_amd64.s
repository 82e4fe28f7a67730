//go:build !purego

#include "textflag.h"

// Transposes of square blocks for packing with AVX-512: each loads the rows of
// a block of the source (stride lds bytes), transposes them in registers and
// stores them as the rows of the destination (stride ldd bytes), so that
// packing a transposed operand reads and writes whole vectors.
//
// Register use:
//   SI, AX, BX, CX  rows 0, 4, 8 and 12 of the source; R8 = lds, R9 = 3·lds
//   DI, R10, R11, R12  rows 0, 4, 8 and 12 of the destination; DX = ldd,
//                   R13 = 3·ldd
//   Z0–Z15      the source rows, then the second stage's result
//   Z16–Z31     the first stage's result, then the transposed rows (float32:
//               Z16–Z27 and Z0–Z2, Z4); Z28–Z31 are the lane transposes' scratch

// LOAD4(base, a, b, c, d) loads rows base+0..3 of the source into a..d.
#define LOAD4(base, a, b, c, d) \
	VMOVUPS (base), a; \
	VMOVUPS (base)(R8*1), b; \
	VMOVUPS (base)(R8*2), c; \
	VMOVUPS (base)(R9*1), d

// STORE4(base, a, b, c, d) stores a..d as rows base+0..3 of the destination.
#define STORE4(base, a, b, c, d) \
	VMOVUPS a, (base); \
	VMOVUPS b, (base)(DX*1); \
	VMOVUPS c, (base)(DX*2); \
	VMOVUPS d, (base)(R13*1)

// PTRS sets up the row pointers from the arguments dst+0, ldd+8, src+16,
// lds+24 (pointers and strides in elements of size 1<<shift).
#define PTRS(shift) \
	MOVQ dst+0(FP), DI; \
	MOVQ ldd+8(FP), DX; \
	MOVQ src+16(FP), SI; \
	MOVQ lds+24(FP), R8; \
	SHLQ $shift, DX; \
	SHLQ $shift, R8; \
	LEAQ (R8)(R8*2), R9; \
	LEAQ (DX)(DX*2), R13; \
	LEAQ (SI)(R8*4), AX; \
	LEAQ (AX)(R8*4), BX; \
	LEAQ (BX)(R8*4), CX; \
	LEAQ (DI)(DX*4), R10; \
	LEAQ (R10)(DX*4), R11; \
	LEAQ (R11)(DX*4), R12

// PAIRS(lo, hi, a, b) interleaves source rows a and b: 32-bit elements, then
// (as PAIRD) 64-bit elements, within each 128-bit lane.
#define PAIRS(a, b, lo, hi) \
	VUNPCKLPS b, a, lo; \
	VUNPCKHPS b, a, hi

#define PAIRD(a, b, lo, hi) \
	VUNPCKLPD b, a, lo; \
	VUNPCKHPD b, a, hi

// LANES(v0, v1, v2, v3, o0, o1, o2, o3) transposes the 4×4 matrix of 128-bit
// lanes held in v0..v3 into o0..o3 (Z28–Z31 are scratch; o may reuse v).
#define LANES(v0, v1, v2, v3, o0, o1, o2, o3) \
	VSHUFF32X4 $0x44, v1, v0, Z28; \
	VSHUFF32X4 $0xEE, v1, v0, Z29; \
	VSHUFF32X4 $0x44, v3, v2, Z30; \
	VSHUFF32X4 $0xEE, v3, v2, Z31; \
	VSHUFF32X4 $0x88, Z30, Z28, o0; \
	VSHUFF32X4 $0xDD, Z30, Z28, o1; \
	VSHUFF32X4 $0x88, Z31, Z29, o2; \
	VSHUFF32X4 $0xDD, Z31, Z29, o3

// func transpose16x16F32(dst *float32, ldd int, src *float32, lds int)
//
// dst[j·ldd+i] = src[i·lds+j] for i, j < 16. After the two unpack stages,
// Z(4g+c) holds, in 128-bit lane L, column 4L+c of rows 4g..4g+3; the lane
// transposes then gather column 4L+c of all 16 rows.
TEXT ·transpose16x16F32(SB), NOSPLIT, $0-32
	PTRS(2)
	LOAD4(SI, Z0, Z1, Z2, Z3)
	LOAD4(AX, Z4, Z5, Z6, Z7)
	LOAD4(BX, Z8, Z9, Z10, Z11)
	LOAD4(CX, Z12, Z13, Z14, Z15)

	PAIRS(Z0, Z1, Z16, Z17)
	PAIRS(Z2, Z3, Z18, Z19)
	PAIRS(Z4, Z5, Z20, Z21)
	PAIRS(Z6, Z7, Z22, Z23)
	PAIRS(Z8, Z9, Z24, Z25)
	PAIRS(Z10, Z11, Z26, Z27)
	PAIRS(Z12, Z13, Z28, Z29)
	PAIRS(Z14, Z15, Z30, Z31)

	PAIRD(Z16, Z18, Z0, Z1)
	PAIRD(Z17, Z19, Z2, Z3)
	PAIRD(Z20, Z22, Z4, Z5)
	PAIRD(Z21, Z23, Z6, Z7)
	PAIRD(Z24, Z26, Z8, Z9)
	PAIRD(Z25, Z27, Z10, Z11)
	PAIRD(Z28, Z30, Z12, Z13)
	PAIRD(Z29, Z31, Z14, Z15)

	// Columns c = 0..3: Z(c), Z(4+c), Z(8+c), Z(12+c) -> rows c, 4+c, 8+c, 12+c.
	LANES(Z0, Z4, Z8, Z12, Z16, Z17, Z18, Z19)
	LANES(Z1, Z5, Z9, Z13, Z20, Z21, Z22, Z23)
	LANES(Z2, Z6, Z10, Z14, Z24, Z25, Z26, Z27)
	LANES(Z3, Z7, Z11, Z15, Z0, Z1, Z2, Z4)

	STORE4(DI, Z16, Z20, Z24, Z0)
	STORE4(R10, Z17, Z21, Z25, Z1)
	STORE4(R11, Z18, Z22, Z26, Z2)
	STORE4(R12, Z19, Z23, Z27, Z4)
	VZEROUPPER
	RET

// func transpose8x8F64(dst *float64, ldd int, src *float64, lds int)
//
// dst[j·ldd+i] = src[i·lds+j] for i, j < 8: the same scheme with one unpack
// stage (64-bit elements) and the lane transposes on pairs of 128-bit lanes
// (Z0–Z7 rows, Z16–Z23 after the unpack; rows 0–3 use SI, 4–7 AX).
TEXT ·transpose8x8F64(SB), NOSPLIT, $0-32
	PTRS(3)
	LOAD4(SI, Z0, Z1, Z2, Z3)
	LOAD4(AX, Z4, Z5, Z6, Z7)

	// Z(16+2g) = columns 0,2,4,6 (one per lane) of rows 2g, 2g+1; Z(17+2g) the odd ones.
	PAIRD(Z0, Z1, Z16, Z17)
	PAIRD(Z2, Z3, Z18, Z19)
	PAIRD(Z4, Z5, Z20, Z21)
	PAIRD(Z6, Z7, Z22, Z23)

	// Lane L of Z16, Z18, Z20, Z22 holds column 2L of rows (0,1), (2,3), (4,5),
	// (6,7): the lane transpose gives column 2L whole; likewise the odd columns.
	LANES(Z16, Z18, Z20, Z22, Z0, Z2, Z4, Z6)
	LANES(Z17, Z19, Z21, Z23, Z1, Z3, Z5, Z7)

	STORE4(DI, Z0, Z1, Z2, Z3)
	STORE4(R10, Z4, Z5, Z6, Z7)
	VZEROUPPER
	RET
