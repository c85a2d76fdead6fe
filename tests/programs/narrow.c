/* Return types of every width and signedness: the value in the return register must be
 * extended by the caller according to the C return type (negative narrow values, values
 * with the top bit set, _Bool, plain char whose signedness depends on the ABI, enums
 * with and without negative members, void). */
#define noinline __attribute__((noinline))

enum nr_order { NR_LESS = -1, NR_EQUAL = 0, NR_GREATER = 1 };
enum nr_color { NR_RED = 1, NR_GREEN = 2, NR_BLUE = 0x80000000u };

signed char nr_schar(int x)
{
	return (signed char)(unsigned int)(x * 3u + 1u);
}

unsigned char nr_uchar(int x)
{
	return (unsigned char)(x * 3u + 1u);
}

/* Plain char: signed on x86_64, unsigned on arm64 and riscv64. */
char nr_char(int x)
{
	return (char)(x + 100u);
}

short nr_short(long x)
{
	return (short)(unsigned long)x;
}

unsigned short nr_ushort(int x)
{
	return (unsigned short)x;
}

_Bool nr_bool(long x)
{
	return x > 100;
}

/* Only bit 8 survives the conversion to _Bool as 1. */
_Bool nr_bool_bits(unsigned long x)
{
	return (_Bool)(x & 0x100);
}

int nr_int(int x)
{
	return (int)(-7u * (unsigned int)x);
}

unsigned int nr_uint(int x)
{
	return (unsigned int)x;
}

long nr_long(long x)
{
	return (long)((unsigned long)x * 3 - 5);
}

long long nr_llong_min(void)
{
	return -9223372036854775807LL - 1;
}

unsigned long long nr_ullong(long long x)
{
	return (unsigned long long)x;
}

enum nr_order nr_compare(long a, long b)
{
	return a < b ? NR_LESS : a > b ? NR_GREATER : NR_EQUAL;
}

enum nr_color nr_color_of(int i)
{
	return i == 0 ? NR_RED : i == 1 ? NR_GREEN : NR_BLUE;
}

volatile int nr_sink;

void nr_store(int x)
{
	nr_sink = x;
}

/* Narrow results of internal calls, summed by the caller. */
noinline signed char nr_h_schar(int x) { return (signed char)(x - 200); }
noinline unsigned char nr_h_uchar(int x) { return (unsigned char)(x - 200); }
noinline short nr_h_short(int x) { return (short)(x * 1000); }
noinline unsigned short nr_h_ushort(int x) { return (unsigned short)(x * -1000); }
noinline _Bool nr_h_bool(int x) { return x & 4; }
noinline char nr_h_char(int x) { return (char)(x + 120); }

int nr_narrow_sum(int x)
{
	return nr_h_schar(x) + 1000 * nr_h_uchar(x) + nr_h_short(x) + nr_h_ushort(x) +
	       1000000 * nr_h_bool(x) + 10000000 * (nr_h_char(x) < 0);
}

/* The narrow value comes straight from a callee. */
signed char nr_chain_schar(int x)
{
	return nr_h_schar(x);
}

unsigned short nr_chain_ushort(int x)
{
	return nr_h_ushort(x);
}

/* Narrow parameters on the entry: the caller converts the argument to the parameter type
 * (a _Bool gets 1 for any nonzero value, not the low byte of it). */
int nr_bool_param(_Bool b, unsigned char c)
{
	return b * 1000 + c;
}

int nr_char_param(char c, signed char s)
{
	return c * 1000 + s;
}
