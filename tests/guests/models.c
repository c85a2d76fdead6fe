/* Prototypes for the function-model tests. */
#include <ftlab/runtime.h>

struct small { int a, b; };        /* 8 bytes */
struct pair16 { long a, b; };      /* 16 bytes */
struct big { long a, b, c; };      /* 24 bytes */
typedef unsigned long my_ulong;
enum color { RED = -1, GREEN = 1 };

noinline long mixed(signed char a, unsigned char b, short c, unsigned short d, int e,
		    unsigned int f, long g, long long h, void *p, my_ulong q, _Bool z)
{
	return a + b + c + d + e + f + g + h + (long)p + (long)q + z;
}

noinline long by_value(struct small s, struct pair16 p, int x)
{
	return s.a + s.b + p.a + p.b + x;
}

noinline struct big ret_big(long x)
{
	struct big b = { x, x + 1, x + 2 };
	return b;
}

noinline void nothing(void) { }
noinline enum color pick(enum color c) { return c; }
noinline const char *name_of(int i) { return i ? "one" : "zero"; }

int entry(int x)
{
	struct small s = { 1, 2 };
	struct pair16 p = { 3, 4 };
	nothing();
	return (int)(mixed(-1, 2, -3, 4, -5, 6, -7, 8, 0, 9, 1) + by_value(s, p, x) +
		     ret_big(x).c + pick(GREEN) + (name_of(x) != 0));
}

notrace int untraced(int x) { return x + 1; }
