/* Globals and static data: initialised arrays in .data and .rodata, string tables,
 * zero-initialised (bss) arrays and counters, static locals, a lazily built table.
 * Entries reset the mutable state they use, so every call gives the same result. */
#define noinline __attribute__((noinline))

typedef unsigned long size_t;
size_t strlen(const char *s);
void *memset(void *dst, int c, size_t n);

static const unsigned short gl_primes[25] = {
	2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
};
int gl_weights[8] = { 3, -1, 4, -1, 5, -9, 2, 6 };
long long gl_big_init = -1234567890123LL;
unsigned char gl_bytes[5] = { 0xff, 0x80, 0x7f, 0x00, 0x01 };
static const char *const gl_names[] = {
	"zero", "one", "two", "three", "four", "five", "six",
	"seven", "eight", "nine", "ten", "eleven", "twelve",
};
#define GL_NNAMES ((int)(sizeof(gl_names) / sizeof(gl_names[0])))
static const char gl_text[] = "the quick brown fox jumps over the lazy dog";
static char gl_buf[32] = "ftlab";

static unsigned long gl_calls;	/* bss */
static long gl_zeroes[64];	/* bss, never written */
static unsigned char gl_sieve[4096];
static unsigned int gl_crc_table[256];
static int gl_crc_ready;
volatile long gl_sink;

long gl_prime_sum(int k)
{
	long sum = 0;
	int i;

	if (k > 25)
		k = 25;
	for (i = 0; i < k; i++)
		sum += gl_primes[i] * (long)gl_weights[i % 8];
	return sum;
}

noinline void gl_bump(int i)
{
	gl_calls += (unsigned long)(i & 3) + 1;
}

noinline long gl_zero_sum(void)
{
	long s = 0;
	int i;

	for (i = 0; i < 64; i++)
		s += gl_zeroes[i];
	return s;
}

unsigned long gl_counter(int n)
{
	int i;

	gl_calls = 0;
	for (i = 0; i < n; i++)
		gl_bump(i);
	return gl_calls * 1000 + (unsigned long)gl_zero_sum();
}

/* Length and letters of a name; negative or out-of-range picks the long text. */
unsigned long gl_name_info(int i)
{
	const char *s = (i >= 0 && i < GL_NNAMES) ? gl_names[i] : gl_text;
	size_t n = strlen(s);

	return n * 1000000 + (unsigned char)s[0] * 1000 + (unsigned char)s[n - 1];
}

int gl_count_letter(int c)
{
	int count = 0, i;
	const char *p;

	for (i = 0; i < GL_NNAMES; i++)
		for (p = gl_names[i]; *p; p++)
			count += *p == c;
	for (p = gl_text; *p; p++)
		count += (*p == c) * 100;
	for (p = gl_buf; *p; p++)
		count += (*p == c) * 10000;
	return count;
}

/* Number of primes below n (n <= 4096) by a sieve in bss. */
int gl_sieve_count(int n)
{
	int i, j, count = 0;

	if (n > 4096)
		n = 4096;
	if (n < 2)
		return 0;
	memset(gl_sieve, 1, (size_t)n);
	gl_sieve[0] = gl_sieve[1] = 0;
	for (i = 2; i * i < n; i++)
		if (gl_sieve[i])
			for (j = i * i; j < n; j += i)
				gl_sieve[j] = 0;
	for (i = 0; i < n; i++)
		count += gl_sieve[i];
	return count;
}

noinline void gl_crc_init(void)
{
	unsigned int c, n, k;

	for (n = 0; n < 256; n++) {
		c = n;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		gl_crc_table[n] = c;
	}
	gl_crc_ready = 1;
}

noinline unsigned int gl_crc(const char *s)
{
	unsigned int c = 0xffffffffu;

	if (!gl_crc_ready)
		gl_crc_init();
	while (*s)
		c = gl_crc_table[(c ^ (unsigned char)*s++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* CRC-32 of a name, or of the text for a negative or out-of-range index. */
unsigned int gl_crc32(int i)
{
	return gl_crc((i >= 0 && i < GL_NNAMES) ? gl_names[i] : gl_text);
}

noinline int gl_seq(int reset)
{
	static int seq;

	if (reset)
		seq = 0;
	return ++seq;
}

long gl_static_local(int n)
{
	long sum = 0;
	int i;

	gl_seq(1);
	for (i = 0; i < n; i++)
		sum += gl_seq(0) * (long)(i + 1);
	return sum;
}

long long gl_data_mix(void)
{
	long long v = gl_big_init;
	int i;

	for (i = 0; i < 5; i++)
		v = v * 3 + (signed char)gl_bytes[i];
	return v;
}

/* A void entry: the effect is only on memory. */
void gl_store(long v)
{
	gl_sink = v;
	gl_buf[0] = (char)v;
	gl_buf[0] = 'f';
}
