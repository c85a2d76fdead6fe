/* x86_32: the 64-bit division helpers the compiler calls (libgcc's __udivdi3 family; the
 * kernel avoids them with do_div(), guest code need not). Shift-and-subtract, notrace. */
#include <ftlab/runtime.h>

notrace static u64 udivmod(u64 n, u64 d, u64 *rem)
{
	u64 q = 0;
	int shift = 0;

	if (!d) {
		ftlab_bug("64-bit division by zero");
		__builtin_unreachable();
	}
	while (d <= n && !(d >> 63)) {
		d <<= 1;
		shift++;
	}
	if (d > n && shift) {
		d >>= 1;
		shift--;
	} else if (d > n) {
		*rem = n;
		return 0;
	}
	for (; shift >= 0; shift--, d >>= 1) {
		q <<= 1;
		if (n >= d) {
			n -= d;
			q |= 1;
		}
	}
	*rem = n;
	return q;
}

notrace u64 __udivdi3(u64 n, u64 d)
{
	u64 r;

	return udivmod(n, d, &r);
}

notrace u64 __umoddi3(u64 n, u64 d)
{
	u64 r;

	udivmod(n, d, &r);
	return r;
}

notrace s64 __divdi3(s64 n, s64 d)
{
	u64 r, q = udivmod(n < 0 ? -(u64)n : (u64)n, d < 0 ? -(u64)d : (u64)d, &r);

	return (n < 0) != (d < 0) ? -(s64)q : (s64)q;
}

notrace s64 __moddi3(s64 n, s64 d)
{
	u64 r;

	udivmod(n < 0 ? -(u64)n : (u64)n, d < 0 ? -(u64)d : (u64)d, &r);
	return n < 0 ? -(s64)r : (s64)r;
}
