/* Recursion: plain and double recursion, mutual recursion (2- and 3-way),
 * divide and conquer with a scratch buffer passed down the call chain. */
#define noinline __attribute__((noinline))

noinline long rc_fib(long n)
{
	if (n < 2)
		return n;
	return rc_fib(n - 1) + rc_fib(n - 2);
}

noinline unsigned long rc_ack(unsigned long m, unsigned long n)
{
	if (m == 0)
		return n + 1;
	if (n == 0)
		return rc_ack(m - 1, 1);
	return rc_ack(m - 1, rc_ack(m, n - 1));
}

noinline int rc_is_odd(unsigned int n);

noinline int rc_is_even(unsigned int n)
{
	return n == 0 ? 1 : rc_is_odd(n - 1);
}

noinline int rc_is_odd(unsigned int n)
{
	return n == 0 ? 0 : rc_is_even(n - 1);
}

/* Both answers for n and one for n + 1: 11 for odd n, 100 for even n. */
int rc_parity(unsigned int n)
{
	return 100 * rc_is_even(n) + 10 * rc_is_odd(n) + rc_is_even(n + 1);
}

/* Hofstadter's female and male sequences. */
noinline long rc_hof_m(long n);

noinline long rc_hof_f(long n)
{
	return n == 0 ? 1 : n - rc_hof_m(rc_hof_f(n - 1));
}

noinline long rc_hof_m(long n)
{
	return n == 0 ? 0 : n - rc_hof_f(rc_hof_m(n - 1));
}

long rc_hofstadter(long n)
{
	return rc_hof_f(n) * 1000 + rc_hof_m(n);
}

/* Three-way mutual recursion with different arithmetic at each hop. */
noinline unsigned long rc_tri_b(int n, unsigned long acc);
noinline unsigned long rc_tri_c(int n, unsigned long acc);

noinline unsigned long rc_tri_a(int n, unsigned long acc)
{
	if (n <= 0)
		return acc;
	return rc_tri_b(n - 1, acc * 3 + 1);
}

noinline unsigned long rc_tri_b(int n, unsigned long acc)
{
	if (n <= 0)
		return acc ^ 0x5a5a;
	return rc_tri_c(n - 1, acc + (unsigned long)n * 7);
}

noinline unsigned long rc_tri_c(int n, unsigned long acc)
{
	if (n <= 0)
		return acc - 1;
	return rc_tri_a(n - 1, (acc << 5) | (acc >> 59));
}

unsigned long rc_tri(int n, unsigned long seed)
{
	return rc_tri_a(n, seed);
}

noinline void rc_merge_sort(long *a, long *tmp, int n)
{
	int mid, i, j, k;

	if (n < 2)
		return;
	mid = n / 2;
	rc_merge_sort(a, tmp, mid);
	rc_merge_sort(a + mid, tmp, n - mid);
	i = 0;
	j = mid;
	k = 0;
	while (i < mid && j < n)
		tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
	while (i < mid)
		tmp[k++] = a[i++];
	while (j < n)
		tmp[k++] = a[j++];
	for (i = 0; i < n; i++)
		a[i] = tmp[i];
}

/* Sorts n (<= 128) pseudo-random values; -1 if the result is not sorted, else a checksum. */
long rc_msort(unsigned int seed, int n)
{
	long a[128], tmp[128];
	long sum = 0;
	int i;

	if (n > 128)
		n = 128;
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		a[i] = (long)(seed >> 8) % 20001 - 10000;
	}
	rc_merge_sort(a, tmp, n);
	for (i = 1; i < n; i++)
		if (a[i - 1] > a[i])
			return -1;
	for (i = 0; i < n; i++)
		sum += a[i] * (i + 1);
	return sum;
}

/* Fast exponentiation by recursion, wrapping modulo 2^64. */
noinline unsigned long long rc_upow(unsigned long long b, unsigned int e)
{
	unsigned long long h;

	if (e == 0)
		return 1;
	h = rc_upow(b, e / 2);
	h *= h;
	return (e & 1) ? h * b : h;
}

long long rc_power(long long b, unsigned int e)
{
	return (long long)rc_upow((unsigned long long)b, e);
}
