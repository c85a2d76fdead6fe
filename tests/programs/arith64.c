/* 64-bit (and 32-bit) multiply, divide, remainder and shift edge cases: negative operands,
 * the most negative value, division by constants (magic numbers), overflow builtins,
 * a multiply-high built from 32-bit halves, modular exponentiation and loops. */
#define noinline __attribute__((noinline))

#define A64_MIN (-9223372036854775807LL - 1)

long long a64_mul(long long a, long long b)
{
	return (long long)((unsigned long long)a * (unsigned long long)b);
}

/* a / b with C's truncation; the undefined cases get fixed answers. */
long long a64_div(long long a, long long b)
{
	if (b == 0)
		return 0;
	if (a == A64_MIN && b == -1)
		return A64_MIN;
	return a / b;
}

long long a64_mod(long long a, long long b)
{
	if (b == 0 || b == -1)
		return 0;
	return a % b;
}

unsigned long long a64_udivmod(unsigned long long a, unsigned long long b, int want_mod)
{
	if (b == 0)
		return ~0ull;
	return want_mod ? a % b : a / b;
}

int a64_div32(int a, int b)
{
	if (b == 0)
		return 0;
	if (a == -2147483647 - 1 && b == -1)
		return a;
	return (int)((unsigned int)(a / b) * 1000u + (unsigned int)(a % b));
}

unsigned int a64_udiv32(unsigned int a, unsigned int b)
{
	if (b == 0)
		return 0;
	return a / b + (a % b) * 7u;
}

/* Division and remainder by constants, all signs. */
long long a64_divconst(long long a)
{
	unsigned long long acc = 0;

	acc = acc * 31 + (unsigned long long)(a / 7);
	acc = acc * 31 + (unsigned long long)(a % 7);
	acc = acc * 31 + (unsigned long long)(a / -3);
	acc = acc * 31 + (unsigned long long)(a % 10);
	acc = acc * 31 + (unsigned long long)(a / 1000000007);
	acc = acc * 31 + (unsigned long long)(a % 1000000007);
	acc = acc * 31 + (unsigned long long)(a / 16);
	acc = acc * 31 + (unsigned long long)(a % 16);
	acc = acc * 31 + (unsigned long long)a / 10;
	acc = acc * 31 + (unsigned long long)a % 641;
	return (long long)acc;
}

/* High 64 bits of the 128-bit product, from 32-bit halves. */
noinline unsigned long long a64_mulhi(unsigned long long a, unsigned long long b)
{
	unsigned long long al = a & 0xffffffffu, ah = a >> 32;
	unsigned long long bl = b & 0xffffffffu, bh = b >> 32;
	unsigned long long ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	unsigned long long mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);

	return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

long long a64_sar(long long a, int s)
{
	return a >> (s & 63);
}

unsigned long long a64_shl(unsigned long long a, int s)
{
	return a << (s & 63);
}

/* Shifts at the edges: by 0, 1, 31, 32, 33 and 63, signed and unsigned. */
long long a64_shift_mix(long long a)
{
	unsigned long long u = (unsigned long long)a;
	unsigned long long acc = 0;
	int i;
	static const unsigned char amounts[6] = { 0, 1, 31, 32, 33, 63 };

	for (i = 0; i < 6; i++) {
		int s = amounts[i];

		acc = acc * 1000003ull + (unsigned long long)(a >> s);
		acc = acc * 1000003ull + (u >> s);
		acc = acc * 1000003ull + (u << s);
		acc = acc * 1000003ull + (unsigned long long)((int)a >> (s & 31));
		acc = acc * 1000003ull + ((unsigned int)u >> (s & 31));
	}
	return (long long)acc;
}

/* (a * b) % m without 128-bit arithmetic, for m < 2^63. */
noinline unsigned long long a64_mulmod(unsigned long long a, unsigned long long b,
				       unsigned long long m)
{
	unsigned long long r = 0;

	a %= m;
	while (b) {
		if (b & 1) {
			r += a;
			if (r >= m)
				r -= m;
		}
		a <<= 1;
		if (a >= m)
			a -= m;
		b >>= 1;
	}
	return r;
}

unsigned long long a64_powmod(unsigned long long b, unsigned long long e, unsigned long long m)
{
	unsigned long long r = 1;

	if (m == 0 || m >> 63)
		return 0;
	r %= m;
	b %= m;
	while (e) {
		if (e & 1)
			r = a64_mulmod(r, b, m);
		b = a64_mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

/* floor(sqrt(x)) by Newton's method, dividing each step. */
unsigned long long a64_isqrt(unsigned long long x)
{
	unsigned long long r, y;

	if (x < 2)
		return x;
	r = x / 2 + 1;
	if (r > 4294967295ull)
		r = 4294967295ull;
	for (;;) {
		y = (r + x / r) / 2;
		if (y >= r)
			return r;
		r = y;
	}
}

/* Bit i of the result says whether operation i overflowed; the low byte of each
 * wrapped result is mixed in above. */
long long a64_overflow(long long a, long long b)
{
	long long s, d, p;
	unsigned long long us, up;
	unsigned long long flags = 0;

	flags |= (unsigned long long)__builtin_add_overflow(a, b, &s) << 0;
	flags |= (unsigned long long)__builtin_sub_overflow(a, b, &d) << 1;
	flags |= (unsigned long long)__builtin_mul_overflow(a, b, &p) << 2;
	flags |= (unsigned long long)__builtin_add_overflow((unsigned long long)a,
							    (unsigned long long)b, &us) << 3;
	flags |= (unsigned long long)__builtin_mul_overflow((unsigned long long)a,
							    (unsigned long long)b, &up) << 4;
	flags |= ((unsigned long long)s & 0xff) << 8;
	flags |= ((unsigned long long)d & 0xff) << 16;
	flags |= ((unsigned long long)p & 0xff) << 24;
	flags |= (us & 0xff) << 32;
	flags |= (up & 0xff) << 40;
	return (long long)flags;
}

/* Collatz steps to reach 1 and the largest value seen, as steps * 2^40 + (max % 2^40). */
unsigned long long a64_collatz(unsigned long long n)
{
	unsigned long long steps = 0, max = n;

	if (n == 0)
		return 0;
	while (n != 1 && steps < 100000) {
		n = (n & 1) ? 3 * n + 1 : n / 2;
		if (n > max)
			max = n;
		steps++;
	}
	return (steps << 40) + (max & ((1ull << 40) - 1));
}
