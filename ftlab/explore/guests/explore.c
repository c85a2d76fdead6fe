/* The explorer's workload: each task calls the traced `target` (and `other`) a few times. */
#include <ftlab/runtime.h>

noinline u64 target(u64 x)
{
	return x * 2 + 1;
}

noinline u64 other(u64 x)
{
	return x + 7;
}

/* traced while the explorer enables `target`, but never called: the tracer is on */
noinline u64 idle_traced(u64 x)
{
	return x - 1;
}

u64 explore_entry(u64 n)
{
	u64 s = 0;

	for (u64 i = 0; i < n; i++)
		s += target(i) + other(i);
	return s;
}
