/* Structs by value: small ones returned in registers, large ones through a hidden result
 * pointer, structs passed by value (in registers, on the stack, by reference to a copy),
 * odd sizes and nesting. Every entry folds what it got back into one integer. */
#define noinline __attribute__((noinline))

struct st_small {	/* 8 bytes: one register */
	int a, b;
};

struct st_pair {	/* 16 bytes: two registers */
	long x, y;
};

struct st_mixed {	/* 16 bytes with padding, narrow members */
	signed char c;
	short s;
	int i;
	long l;
};

struct st_three {	/* 3 bytes: an odd size */
	unsigned char b[3];
};

struct st_big {		/* 48 bytes: returned through memory everywhere */
	long v[5];
	int tag;
};

struct st_huge {	/* 256 bytes: copies go through memcpy */
	int a[64];
};

struct st_nested {
	struct st_small s;
	struct st_pair p;
	unsigned short u;
	signed char tail[3];
};

#define ST_MIX(acc, v) ((acc) = (acc) * 1000003ul + (unsigned long)(long long)(v))

noinline struct st_small st_make_small(int a, int b)
{
	struct st_small s;

	s.a = (int)((unsigned int)a + (unsigned int)b);
	s.b = (int)((unsigned int)a - (unsigned int)b);
	return s;
}

noinline struct st_small st_swap_small(struct st_small s)
{
	struct st_small r = { s.b, s.a };

	return r;
}

long st_small_entry(int a, int b)
{
	struct st_small s = st_swap_small(st_make_small(a, b));

	return (long)s.a * 1000003L + s.b;
}

noinline struct st_pair st_pair_add(struct st_pair p, struct st_pair q)
{
	struct st_pair r;

	r.x = (long)((unsigned long)p.x + (unsigned long)q.x);
	r.y = (long)((unsigned long)p.y - (unsigned long)q.y);
	return r;
}

/* The two pairs go in registers until there are none left, then on the stack. */
noinline struct st_pair st_pair_late(long r0, long r1, long r2, long r3, long r4, long r5,
				     struct st_pair p, struct st_pair q)
{
	struct st_pair r;

	r.x = p.x ^ q.y;
	r.y = (long)((unsigned long)p.y + (unsigned long)(r0 - r1 + r2 - r3 + r4 - r5) +
		     (unsigned long)(q.x % 1000));
	return r;
}

long st_pair_entry(long x, long y)
{
	struct st_pair p = { x, y }, q = { y >> 1, x >> 2 };
	struct st_pair r = st_pair_add(p, q);
	struct st_pair s = st_pair_late(1, 2, 3, 4, 5, 6, r, p);
	unsigned long acc = 0;

	ST_MIX(acc, r.x);
	ST_MIX(acc, r.y);
	ST_MIX(acc, s.x);
	ST_MIX(acc, s.y);
	return (long)acc;
}

noinline struct st_mixed st_make_mixed(long v)
{
	struct st_mixed m;

	m.c = (signed char)v;
	m.s = (short)(v >> 4);
	m.i = (int)(v >> 12);
	m.l = v;
	return m;
}

long st_mixed_entry(long v)
{
	struct st_mixed m = st_make_mixed(v);

	return m.c + m.s + (long)m.i + (m.l >> 20);
}

noinline struct st_three st_make_three(int x)
{
	struct st_three t;

	t.b[0] = (unsigned char)x;
	t.b[1] = (unsigned char)(x >> 8);
	t.b[2] = (unsigned char)(x + 0x55);
	return t;
}

noinline int st_three_sum(struct st_three a, struct st_three b)
{
	return a.b[0] * 65536 + a.b[1] * 256 + a.b[2] - b.b[2];
}

int st_three_entry(int x)
{
	return st_three_sum(st_make_three(x), st_make_three(~x));
}

noinline struct st_big st_make_big(long seed)
{
	struct st_big b;
	unsigned long s = (unsigned long)seed;
	int i;

	for (i = 0; i < 5; i++) {
		s = s * 6364136223846793005ul + 1442695040888963407ul;
		b.v[i] = (long)(s >> 3);
	}
	b.tag = (int)seed;
	return b;
}

/* Takes the struct by value, changes its copy, returns a new one. */
noinline struct st_big st_big_twice(struct st_big b)
{
	int i;

	for (i = 0; i < 5; i++)
		b.v[i] = (long)((unsigned long)b.v[i] * 2 + (unsigned long)i);
	b.tag = -(b.tag / 2);
	return b;
}

long st_big_entry(long seed)
{
	struct st_big a = st_make_big(seed);
	struct st_big b = st_big_twice(a);
	struct st_big c = st_big_twice(b);
	unsigned long acc = 0;
	int i;

	for (i = 0; i < 5; i++) {
		ST_MIX(acc, a.v[i]);
		ST_MIX(acc, b.v[i]);
		ST_MIX(acc, c.v[i]);
	}
	ST_MIX(acc, a.tag);
	ST_MIX(acc, b.tag);
	ST_MIX(acc, c.tag);
	return (long)acc;
}

noinline struct st_huge st_make_huge(unsigned int seed)
{
	struct st_huge h;
	int i;

	for (i = 0; i < 64; i++) {
		seed = seed * 1664525u + 1013904223u;
		h.a[i] = (int)seed >> 4;
	}
	return h;
}

noinline unsigned long st_huge_sum(struct st_huge h, int stride)
{
	unsigned long acc = 0;
	int i;

	for (i = 0; i < 64; i += stride)
		ST_MIX(acc, h.a[i]);
	return acc;
}

unsigned long st_huge_entry(unsigned int seed, int stride)
{
	struct st_huge h = st_make_huge(seed);

	if (stride < 1)
		stride = 1;
	return st_huge_sum(h, stride) ^ st_huge_sum(st_make_huge(seed + 1), 1);
}

noinline struct st_nested st_make_nested(int a, long b)
{
	struct st_nested n;

	n.s = st_make_small(a, (int)b);
	n.p.x = b;
	n.p.y = (long)((unsigned long)b * (unsigned long)a);
	n.u = (unsigned short)(a * 7u);
	n.tail[0] = (signed char)a;
	n.tail[1] = (signed char)(a >> 8);
	n.tail[2] = -1;
	return n;
}

long st_nested_entry(int a, long b)
{
	struct st_nested arr[4];
	unsigned long acc = 0;
	int i;

	for (i = 0; i < 4; i++)
		arr[i] = st_make_nested(a + i, b - i);
	for (i = 0; i < 4; i++) {
		ST_MIX(acc, arr[i].s.a);
		ST_MIX(acc, arr[i].s.b);
		ST_MIX(acc, arr[i].p.x);
		ST_MIX(acc, arr[i].p.y);
		ST_MIX(acc, arr[i].u);
		ST_MIX(acc, arr[i].tail[0] + arr[i].tail[1] + arr[i].tail[2]);
	}
	return (long)acc;
}
