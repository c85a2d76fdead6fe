/* Bit tricks: population count, leading/trailing zeros, reversal, byte swaps, parity,
 * powers of two, Gray code, rotations, sign extension, Morton order and bitfields. */
#define noinline __attribute__((noinline))

unsigned int bt_popcount(unsigned long long x)
{
	return (unsigned int)__builtin_popcountll(x);
}

/* Kernighan's loop, checked against the builtin: the count, or -1 on disagreement. */
noinline int bt_popcount_loop(unsigned long long x)
{
	int n = 0;

	while (x) {
		x &= x - 1;
		n++;
	}
	return n;
}

int bt_clz_ctz(unsigned long long x)
{
	int clz = x ? __builtin_clzll(x) : 64;
	int ctz = x ? __builtin_ctzll(x) : 64;
	int pc = bt_popcount_loop(x);

	if (pc != __builtin_popcountll(x))
		return -1;
	return clz * 10000 + ctz * 100 + pc;
}

unsigned long long bt_reverse(unsigned long long x)
{
	x = ((x >> 1) & 0x5555555555555555ull) | ((x & 0x5555555555555555ull) << 1);
	x = ((x >> 2) & 0x3333333333333333ull) | ((x & 0x3333333333333333ull) << 2);
	x = ((x >> 4) & 0x0f0f0f0f0f0f0f0full) | ((x & 0x0f0f0f0f0f0f0f0full) << 4);
	x = ((x >> 8) & 0x00ff00ff00ff00ffull) | ((x & 0x00ff00ff00ff00ffull) << 8);
	x = ((x >> 16) & 0x0000ffff0000ffffull) | ((x & 0x0000ffff0000ffffull) << 16);
	return (x >> 32) | (x << 32);
}

unsigned long long bt_bswap64(unsigned long long x)
{
	return __builtin_bswap64(x);
}

unsigned int bt_bswap32(unsigned int x)
{
	return __builtin_bswap32(x);
}

unsigned short bt_bswap16(unsigned short x)
{
	return __builtin_bswap16(x);
}

int bt_parity(unsigned long long x)
{
	x ^= x >> 32;
	x ^= x >> 16;
	x ^= x >> 8;
	x ^= x >> 4;
	x ^= x >> 2;
	x ^= x >> 1;
	return (int)(x & 1) * 10 + __builtin_parityll(x ^ 1);
}

unsigned long long bt_next_pow2(unsigned long long x)
{
	if (x <= 1)
		return 1;
	x--;
	x |= x >> 1;
	x |= x >> 2;
	x |= x >> 4;
	x |= x >> 8;
	x |= x >> 16;
	x |= x >> 32;
	return x + 1;
}

noinline unsigned long long bt_gray_decode(unsigned long long g)
{
	g ^= g >> 32;
	g ^= g >> 16;
	g ^= g >> 8;
	g ^= g >> 4;
	g ^= g >> 2;
	g ^= g >> 1;
	return g;
}

/* Gray code of x; 0 if decoding does not give x back. */
unsigned long long bt_gray(unsigned long long x)
{
	unsigned long long g = x ^ (x >> 1);

	return bt_gray_decode(g) == x ? g : 0;
}

unsigned long long bt_rot(unsigned long long x, int r)
{
	unsigned long long left = (x << (r & 63)) | (x >> ((64 - r) & 63));
	unsigned int small = (unsigned int)x;

	small = (small >> (r & 31)) | (small << ((32 - r) & 31));
	return left ^ small;
}

/* Sign-extends the low `bits` bits of x (1..64). */
long long bt_sext(unsigned long long x, int bits)
{
	unsigned long long m;

	if (bits < 1 || bits > 64)
		return 0;
	m = 1ull << (bits - 1);
	x &= (bits == 64) ? ~0ull : (1ull << bits) - 1;
	return (long long)((x ^ m) - m);
}

noinline unsigned long long bt_spread(unsigned int v)
{
	unsigned long long x = v;

	x = (x | (x << 16)) & 0x0000ffff0000ffffull;
	x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
	x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0full;
	x = (x | (x << 2)) & 0x3333333333333333ull;
	x = (x | (x << 1)) & 0x5555555555555555ull;
	return x;
}

unsigned long long bt_morton(unsigned int x, unsigned int y)
{
	return bt_spread(x) | (bt_spread(y) << 1);
}

/* x & -x and friends on a signed value, in unsigned arithmetic. */
long long bt_lowbit(long long x)
{
	unsigned long long u = (unsigned long long)x;
	unsigned long long low = u & -u;
	unsigned long long cleared = u & (u - 1);
	unsigned long long filled = u | (u - 1);

	return (long long)(low ^ (cleared >> 3) ^ (filled << 5));
}

struct bt_fields {
	unsigned int a : 3;
	signed int b : 5;
	unsigned int c : 12;
	signed int d : 20;
	unsigned long long e : 24;
	signed long long f : 40;
	unsigned char g : 1;
};

noinline struct bt_fields bt_pack(long v)
{
	struct bt_fields f;
	unsigned long u = (unsigned long)v;

	f.a = (unsigned int)u;
	f.b = (signed int)((u >> 3) & 31) - 16;
	f.c = (unsigned int)(u >> 8);
	f.d = (signed int)((u >> 20) & 0xfffff) - 0x80000;
	f.e = u >> 40;
	f.f = (signed long long)((u >> 5) & 0xffffffffffull) - (1ll << 39);
	f.g = (unsigned char)(u >> 63);
	return f;
}

long bt_bitfields(long v)
{
	struct bt_fields f = bt_pack(v);
	unsigned long acc = 0;

	acc = acc * 1000003ul + f.a;
	acc = acc * 1000003ul + (unsigned long)(long)f.b;
	acc = acc * 1000003ul + f.c;
	acc = acc * 1000003ul + (unsigned long)(long)f.d;
	acc = acc * 1000003ul + f.e;
	acc = acc * 1000003ul + (unsigned long)(long long)f.f;
	acc = acc * 1000003ul + f.g;
	return (long)acc;
}
