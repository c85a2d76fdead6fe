/* 16-byte-aligned arguments in register and stack positions where the ABIs differ: an
 * __int128 or a struct holding one (natural 16-byte alignment), a struct with aligned(16)
 * (AAPCS64 as clang does it ignores that attribute), after an odd number of registers or
 * stack slots. Plain C: tests/reference.py builds it natively (or under qemu-user) as the
 * oracle. Each function records its own view of its arguments, 8-byte pieces in ctx order. */
#define noinline __attribute__((noinline))

typedef unsigned long long u64;
struct a16 { long a; long b; } __attribute__((aligned(16)));
struct w128 { __int128 v; };

u64 got[8][16];
u64 got_ret[8];

#define LO(x) ((u64)(x))
#define HI(x) ((u64)((unsigned __int128)(x) >> 64))
#define RET(i, r) (got_ret[i] = (u64)(r), (r))

noinline long al_i_reg(long a, __int128 b, long c)
{
	u64 *g = got[0];

	g[0] = a; g[1] = LO(b); g[2] = HI(b); g[3] = c;
	return RET(0, a * 3 + (long)LO(b) * 5 + (long)HI(b) * 7 + c * 11);
}

noinline long al_w_reg(long a, struct w128 b, long c)
{
	u64 *g = got[1];

	g[0] = a; g[1] = LO(b.v); g[2] = HI(b.v); g[3] = c;
	return RET(1, a * 3 - (long)LO(b.v) * 5 + (long)HI(b.v) * 7 - c * 11);
}

noinline long al_s_reg(long a, struct a16 b, long c)
{
	u64 *g = got[2];

	g[0] = a; g[1] = b.a; g[2] = b.b; g[3] = c;
	return RET(2, a * 13 + b.a * 5 - b.b * 7 + c);
}

noinline long al_i_stk(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8,
		       long s0, __int128 h, long i)
{
	u64 *g = got[3];

	g[0] = a1; g[1] = a2; g[2] = a3; g[3] = a4; g[4] = a5; g[5] = a6; g[6] = a7; g[7] = a8;
	g[8] = s0; g[9] = LO(h); g[10] = HI(h); g[11] = i;
	return RET(3, a1 + a2 * 2 + a3 * 3 + a4 * 4 + a5 * 5 + a6 * 6 + a7 * 7 + a8 * 8 +
		   s0 * 9 + (long)LO(h) * 10 + (long)HI(h) * 11 + i * 12);
}

noinline long al_s_stk(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8,
		       long s0, struct a16 h, long i)
{
	u64 *g = got[4];

	g[0] = a1; g[1] = a2; g[2] = a3; g[3] = a4; g[4] = a5; g[5] = a6; g[6] = a7; g[7] = a8;
	g[8] = s0; g[9] = h.a; g[10] = h.b; g[11] = i;
	return RET(4, a1 - a2 + a3 - a4 + a5 - a6 + a7 - a8 + s0 * 9 + h.a * 10 - h.b * 11 + i);
}

noinline long al_w_stk(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8,
		       long s0, struct w128 h, long i)
{
	u64 *g = got[5];

	g[0] = a1; g[1] = a2; g[2] = a3; g[3] = a4; g[4] = a5; g[5] = a6; g[6] = a7; g[7] = a8;
	g[8] = s0; g[9] = LO(h.v); g[10] = HI(h.v); g[11] = i;
	return RET(5, a1 * 7 + a8 * 5 + s0 * 3 + (long)LO(h.v) * 17 - (long)HI(h.v) + i * 19);
}

/* one register left for the pair on arm64 and riscv64 (split there), none on x86_64 */
noinline long al_i_split(long a1, long a2, long a3, long a4, long a5, long a6, long a7,
			 __int128 h, long i)
{
	u64 *g = got[6];

	g[0] = a1; g[1] = a2; g[2] = a3; g[3] = a4; g[4] = a5; g[5] = a6; g[6] = a7;
	g[7] = LO(h); g[8] = HI(h); g[9] = i;
	return RET(6, a1 + a7 * 3 + (long)LO(h) * 5 + (long)HI(h) * 7 + i * 9);
}

/* x86_64: one register left, the pair goes to the stack and the next long takes r9 */
noinline long al_i_last(long a1, long a2, long a3, long a4, long a5, __int128 h, long i)
{
	u64 *g = got[7];

	g[0] = a1; g[1] = a2; g[2] = a3; g[3] = a4; g[4] = a5; g[5] = LO(h); g[6] = HI(h);
	g[7] = i;
	return RET(7, a1 + a5 * 3 + (long)LO(h) * 5 - (long)HI(h) * 7 + i * 11);
}

long al_entry(long k)
{
	__int128 big = ((__int128)(0x1234 + k) << 64) | (unsigned __int128)(0x5678abcdULL + k);
	struct w128 w = { -big };
	struct a16 s = { 0x111 + k, -0x222 - k };
	long r = 0;

	r += al_i_reg(1 + k, big, 3);
	r += al_w_reg(-1, w, 4 + k);
	r += al_s_reg(5, s, -6 - k);
	r += al_i_stk(1, 2, 3, 4, 5, 6, 7, 8, 9 + k, big, 11);
	r += al_s_stk(1, 2, 3, 4, 5, 6, 7, 8, -9, s, 11 + k);
	r += al_w_stk(1, 2, 3, 4, 5, 6, 7, 8, 99, w, -11 * k);
	r += al_i_split(1, 2, 3, 4, 5, 6, 7 + k, big, 13);
	r += al_i_last(1, 2, 3, 4, 5 + k, big, 17);
	return r;
}
