/* Function pointers: a hand-written generic quicksort with comparators, tables of callbacks,
 * reducers, composition of unary functions and a state machine of state functions. */
#define noinline __attribute__((noinline))

typedef unsigned long size_t;
typedef int (*fp_cmp_fn)(const void *, const void *);

noinline void fp_swap(void *a, void *b, size_t n)
{
	unsigned char *x = a, *y = b, t;

	while (n--) {
		t = *x;
		*x++ = *y;
		*y++ = t;
	}
}

/* Lomuto quicksort on elements of `size` bytes, ordered by `cmp`. */
noinline void fp_qsort(void *base, size_t n, size_t size, fp_cmp_fn cmp)
{
	unsigned char *b = base;
	unsigned char *pivot;
	size_t i = 0, j;

	if (n < 2)
		return;
	pivot = b + (n - 1) * size;
	fp_swap(b + (n / 2) * size, pivot, size);
	for (j = 0; j + 1 < n; j++) {
		if (cmp(b + j * size, pivot) < 0) {
			if (i != j)
				fp_swap(b + i * size, b + j * size, size);
			i++;
		}
	}
	if (i != n - 1)
		fp_swap(b + i * size, pivot, size);
	fp_qsort(b, i, size, cmp);
	fp_qsort(b + (i + 1) * size, n - i - 1, size, cmp);
}

noinline int fp_cmp_int_asc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

noinline int fp_cmp_int_desc(const void *a, const void *b)
{
	return fp_cmp_int_asc(b, a);
}

noinline int fp_cmp_int_abs(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int ax = x < 0 ? -x : x, ay = y < 0 ? -y : y;

	if (ax != ay)
		return ax < ay ? -1 : 1;
	return (x > y) - (x < y);
}

static const fp_cmp_fn fp_int_cmps[3] = { fp_cmp_int_asc, fp_cmp_int_desc, fp_cmp_int_abs };

static unsigned int fp_rand(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Sorts n (<= 64) pseudo-random ints in [-1000, 1000] with comparator `how` (0 ascending,
 * 1 descending, 2 by magnitude); -1 if the result is out of order, else a checksum. */
long fp_sort_ints(unsigned int seed, int n, int how)
{
	int a[64];
	fp_cmp_fn cmp;
	long sum = 0;
	int i;

	if (n > 64)
		n = 64;
	if (n < 0)
		n = 0;
	cmp = fp_int_cmps[(unsigned int)how % 3];
	for (i = 0; i < n; i++)
		a[i] = (int)(fp_rand(&seed) % 2001) - 1000;
	fp_qsort(a, (size_t)n, sizeof(a[0]), cmp);
	for (i = 1; i < n; i++)
		if (cmp(&a[i - 1], &a[i]) > 0)
			return -1;
	for (i = 0; i < n; i++)
		sum += (long)a[i] * (i + 1);
	return sum;
}

struct fp_rec {
	short key;
	unsigned char id;
	long payload;
};

noinline int fp_cmp_rec(const void *a, const void *b)
{
	const struct fp_rec *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (int)x->id - (int)y->id;
}

long fp_sort_recs(unsigned int seed, int n)
{
	struct fp_rec r[40];
	unsigned long acc = 0;
	int i;

	if (n > 40)
		n = 40;
	for (i = 0; i < n; i++) {
		r[i].key = (short)(fp_rand(&seed) % 7) - 3;
		r[i].id = (unsigned char)(200 + i);
		r[i].payload = (long)fp_rand(&seed) * (i - 20);
	}
	fp_qsort(r, (size_t)n, sizeof(r[0]), fp_cmp_rec);
	for (i = 1; i < n; i++)
		if (fp_cmp_rec(&r[i - 1], &r[i]) >= 0)
			return -1;
	for (i = 0; i < n; i++)
		acc = acc * 31 + (unsigned long)r[i].payload + r[i].id;
	return (long)acc;
}

/* Binary operations in wrapping arithmetic. */
noinline long fp_op_add(long a, long b) { return (long)((unsigned long)a + (unsigned long)b); }
noinline long fp_op_sub(long a, long b) { return (long)((unsigned long)a - (unsigned long)b); }
noinline long fp_op_mul(long a, long b) { return (long)((unsigned long)a * (unsigned long)b); }
noinline long fp_op_xor(long a, long b) { return a ^ b; }
noinline long fp_op_min(long a, long b) { return a < b ? a : b; }
noinline long fp_op_max(long a, long b) { return a > b ? a : b; }
noinline long fp_op_avg(long a, long b) { return (a & b) + ((a ^ b) >> 1); }

typedef long (*fp_binop)(long, long);
static fp_binop const fp_ops[] = {
	fp_op_add, fp_op_sub, fp_op_mul, fp_op_xor, fp_op_min, fp_op_max, fp_op_avg,
};
#define FP_NOPS (sizeof(fp_ops) / sizeof(fp_ops[0]))

long fp_apply(int op, long a, long b)
{
	return fp_ops[(unsigned int)op % FP_NOPS](a, b);
}

/* All ops folded over 1..n, each from a different start. */
long fp_fold(int n)
{
	unsigned long acc = 0;
	unsigned int k;
	int i;

	for (k = 0; k < FP_NOPS; k++) {
		long v = (long)k - 3;

		for (i = 1; i <= n; i++)
			v = fp_ops[k](v, (long)i * 37 - 500);
		acc = acc * 1000003ul + (unsigned long)v;
	}
	return (long)acc;
}

noinline unsigned long fp_u_inc(unsigned long x) { return x + 1; }
noinline unsigned long fp_u_dbl(unsigned long x) { return x * 2; }
noinline unsigned long fp_u_neg(unsigned long x) { return -x; }
noinline unsigned long fp_u_sq(unsigned long x) { return x * x; }
noinline unsigned long fp_u_rot(unsigned long x) { return (x << 13) | (x >> 51); }

struct fp_unop {
	const char *name;
	unsigned long (*fn)(unsigned long);
};

static const struct fp_unop fp_unops[5] = {
	{ "inc", fp_u_inc }, { "dbl", fp_u_dbl }, { "neg", fp_u_neg },
	{ "sq", fp_u_sq }, { "rot", fp_u_rot },
};

/* Applies unary op (i % 5) for every set bit i of mask, lowest first. */
long fp_compose(long x, unsigned long mask)
{
	unsigned long v = (unsigned long)x;
	int i;

	for (i = 0; i < 64; i++)
		if (mask & (1ul << i))
			v = fp_unops[i % 5].fn(v) + (unsigned char)fp_unops[i % 5].name[0];
	return (long)v;
}

/* A DFA for "divisible by 3" over binary digits, one function per state. */
struct fp_state;
typedef const struct fp_state *(*fp_state_fn)(unsigned int bit, int *visits);
struct fp_state {
	fp_state_fn step;
	int value;
};

static const struct fp_state fp_states[3];

noinline const struct fp_state *fp_s0(unsigned int bit, int *visits)
{
	visits[0]++;
	return &fp_states[bit ? 1 : 0];
}

noinline const struct fp_state *fp_s1(unsigned int bit, int *visits)
{
	visits[1]++;
	return &fp_states[bit ? 0 : 2];
}

noinline const struct fp_state *fp_s2(unsigned int bit, int *visits)
{
	visits[2]++;
	return &fp_states[bit ? 2 : 1];
}

static const struct fp_state fp_states[3] = { { fp_s0, 0 }, { fp_s1, 1 }, { fp_s2, 2 } };

/* input % 3, computed by the DFA, and how often each state was left. */
int fp_machine(unsigned long input)
{
	const struct fp_state *s = &fp_states[0];
	int visits[3] = { 0, 0, 0 };
	int i;

	for (i = 63; i >= 0; i--)
		s = s->step((unsigned int)(input >> i) & 1, visits);
	return s->value + 10 * visits[0] + 1000 * visits[1] + 100000 * visits[2];
}
