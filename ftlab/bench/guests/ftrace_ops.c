/*
 * The workload of samples/ftrace/ftrace-ops.c: a loop calling one traceable function, timed
 * with and without ftrace_ops attached to it. Written for ftlab; the shape follows the kernel
 * sample (tracee_relevant / tracee_irrelevant called from a loop in the benchmark thread).
 */
#include <ftlab/runtime.h>

/* The function the "relevant" ops filter on: trivial work, a value that depends on x. */
noinline u64 bench_target(u64 x)
{
	return x * 0x9e3779b97f4a7c15ULL + 1;
}

/* The function the "irrelevant" ops filter on: never called by bench_loop. */
noinline u64 bench_other(u64 x)
{
	return x ^ 0x5555555555555555ULL;
}

/* Call bench_target n times; the result feeds the next call so nothing is optimised away.
 * Never named by a filter, so its own patch site stays disabled. */
noinline u64 bench_loop(u64 n)
{
	u64 acc = 0;

	for (u64 i = 0; i < n; i++)
		acc = bench_target(acc ^ i);
	return acc;
}
