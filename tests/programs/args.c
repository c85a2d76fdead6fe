/* Many arguments of mixed width and signedness between internal functions: more than the
 * argument registers on every ABI (6 on x86_64, 8 on arm64 and riscv64), so the tail of
 * each list, narrow types and pointers included, goes on the stack. */
#define noinline __attribute__((noinline))

#define AG_MIX(acc, v) ((acc) = (acc) * 1000003ul + (unsigned long)(long long)(v))

noinline long ag_mix12(char a, unsigned char b, short c, unsigned short d, int e, unsigned int f,
		       long g, long long h, const int *p, const char *s, signed char i,
		       unsigned short j)
{
	unsigned long acc = 0;

	AG_MIX(acc, a);
	AG_MIX(acc, b);
	AG_MIX(acc, c);
	AG_MIX(acc, d);
	AG_MIX(acc, e);
	AG_MIX(acc, f);
	AG_MIX(acc, g);
	AG_MIX(acc, h);
	AG_MIX(acc, p[0]);
	AG_MIX(acc, p[1]);
	AG_MIX(acc, s[0]);
	AG_MIX(acc, s[1]);
	AG_MIX(acc, i);
	AG_MIX(acc, j);
	return (long)acc;
}

long ag_mix(long x, int y)
{
	int pair[2];
	char str[3];

	pair[0] = y;
	pair[1] = (int)(unsigned int)x;
	str[0] = (char)(x >> 16);
	str[1] = (char)y;
	str[2] = 0;
	return ag_mix12((char)x, (unsigned char)(x >> 8), (short)(unsigned int)(y * 3u),
			(unsigned short)(x >> 4), y, (unsigned int)x * 5u, x ^ 0x7777, (long long)((unsigned long long)x << 3),
			pair, str, (signed char)(y >> 2), (unsigned short)(y + 1u));
}

noinline unsigned long ag_sum16(long a0, int a1, short a2, signed char a3, unsigned int a4,
				unsigned short a5, unsigned char a6, long long a7, int a8, short a9,
				char a10, unsigned long a11, int a12, signed char a13,
				unsigned short a14, long a15)
{
	unsigned long acc = 7;

	AG_MIX(acc, a0);
	AG_MIX(acc, a1);
	AG_MIX(acc, a2);
	AG_MIX(acc, a3);
	AG_MIX(acc, a4);
	AG_MIX(acc, a5);
	AG_MIX(acc, a6);
	AG_MIX(acc, a7);
	AG_MIX(acc, a8);
	AG_MIX(acc, a9);
	AG_MIX(acc, a10);
	AG_MIX(acc, a11);
	AG_MIX(acc, a12);
	AG_MIX(acc, a13);
	AG_MIX(acc, a14);
	AG_MIX(acc, a15);
	return acc;
}

static unsigned long ag_next(unsigned long *s)
{
	*s = *s * 6364136223846793005ul + 1442695040888963407ul;
	return *s >> 17;
}

unsigned long ag_many(unsigned long seed)
{
	unsigned long v[16];
	int i;

	for (i = 0; i < 16; i++)
		v[i] = ag_next(&seed) - (1ul << 46);
	return ag_sum16((long)v[0], (int)v[1], (short)v[2], (signed char)v[3], (unsigned int)v[4],
			(unsigned short)v[5], (unsigned char)v[6], (long long)v[7], (int)v[8],
			(short)v[9], (char)v[10], v[11], (int)v[12], (signed char)v[13],
			(unsigned short)v[14], (long)v[15]);
}

/* The narrow arguments all come after eight longs: on the stack on every ABI. */
noinline long ag_tail_narrow(long r0, long r1, long r2, long r3, long r4, long r5, long r6,
			     long r7, signed char s1, unsigned char u1, short s2,
			     unsigned short u2, int s3, unsigned int u3)
{
	long regs = r0 + 2 * r1 + 3 * r2 + 4 * r3 + 5 * r4 + 6 * r5 + 7 * r6 + 8 * r7;

	return regs * 1000 + s1 + u1 + s2 + u2 + s3 + (long)u3;
}

long ag_narrow(long x)
{
	return ag_tail_narrow(1, 2, 3, 4, 5, 6, 7, 8, (signed char)x, (unsigned char)x, (short)x,
			      (unsigned short)x, (int)x, (unsigned int)x);
}

/* Pointers to every width, the last ones passed on the stack. */
noinline void ag_split(long v, signed char *b0, unsigned char *b1, short *h0,
		       unsigned short *h1, int *w0, unsigned int *w1, long *l, long long *ll,
		       unsigned long *ul)
{
	*b0 = (signed char)v;
	*b1 = (unsigned char)(v >> 8);
	*h0 = (short)(v >> 16);
	*h1 = (unsigned short)(v >> 24);
	*w0 = (int)(v >> 8);
	*w1 = (unsigned int)(v >> 32);
	*l = v ^ -1L;
	*ll = (long long)((unsigned long long)v * 3);
	*ul = (unsigned long)v >> 1;
}

long ag_outparams(long v)
{
	signed char b0;
	unsigned char b1;
	short h0;
	unsigned short h1;
	int w0;
	unsigned int w1;
	long l;
	long long ll;
	unsigned long ul, acc = 0;

	ag_split(v, &b0, &b1, &h0, &h1, &w0, &w1, &l, &ll, &ul);
	AG_MIX(acc, b0);
	AG_MIX(acc, b1);
	AG_MIX(acc, h0);
	AG_MIX(acc, h1);
	AG_MIX(acc, w0);
	AG_MIX(acc, w1);
	AG_MIX(acc, l);
	AG_MIX(acc, ll);
	AG_MIX(acc, ul);
	return (long)acc;
}

/* Recursion that rotates ten arguments of different types through their slots. */
noinline unsigned long ag_rotate(int depth, long a, int b, short c, signed char d,
				 unsigned int e, unsigned short f, unsigned char g,
				 long long h, long i)
{
	unsigned long acc = 0;

	if (depth == 0) {
		AG_MIX(acc, a);
		AG_MIX(acc, b);
		AG_MIX(acc, c);
		AG_MIX(acc, d);
		AG_MIX(acc, e);
		AG_MIX(acc, f);
		AG_MIX(acc, g);
		AG_MIX(acc, h);
		AG_MIX(acc, i);
		return acc;
	}
	return ag_rotate(depth - 1, i, (int)a, (short)b, (signed char)c, (unsigned int)d,
			 (unsigned short)e, (unsigned char)f, (long long)g, (long)h) +
	       (unsigned long)depth;
}

unsigned long ag_rot(int depth, long seed)
{
	unsigned long s = (unsigned long)seed;

	return ag_rotate(depth, seed, (int)(s * 3), (short)(s + 1000), (signed char)(s - 7),
			 (unsigned int)s * 11u, (unsigned short)(s >> 3), (unsigned char)(s >> 1),
			 (long long)(s * -5ul), (long)~s);
}

/* Narrow parameters on the entry itself. */
long ag_entry6(signed char a, unsigned char b, short c, unsigned short d, int e, unsigned int f)
{
	return a + 10L * b + 100L * c + 1000L * d + 3L * e + 7L * (long)f;
}

long long ag_entry_wide(long long a, unsigned long long b, long c, unsigned long d)
{
	unsigned long long r = (unsigned long long)a * 3 + b - (unsigned long long)c + (d >> 1);

	return (long long)(r ^ (b >> 7));
}
