/* Unbounded recursion on hart 1 while hart 0 sums a loop: the guard page below hart 1's
 * stack must stop it before it reaches hart 0's stack. */
#include <ftlab/runtime.h>

noinline long rec(long n)
{
	volatile char buf[256];

	buf[0] = (char)n;
	return rec(n + 1) + buf[0];
}

noinline long work(long n)
{
	volatile long s = 0;

	for (long i = 0; i < n; i++) {
		s += i;
		cond_resched();
	}
	return s;
}

long entry(void)
{
	if (smp_processor_id() == 1)
		return rec(0);
	return work(20000);
}
