/* A multi-function workload for the ftrace tests: recursion, function pointers, leaves. */
#include <ftlab/runtime.h>

u64 shared_sum;

noinline u64 leaf_add(u64 a, u64 b) { return a + b; }
noinline u64 leaf_mul(u64 a, u64 b) { return a * b + 1; }

noinline u64 fib(u64 n)
{
	if (n < 2)
		return n;
	return fib(n - 1) + fib(n - 2);
}

typedef u64 (*binop_t)(u64, u64);
static binop_t ops_table[2] = { leaf_add, leaf_mul };

noinline u64 apply_ops(u64 x, u64 rounds)
{
	u64 acc = x;

	for (u64 i = 0; i < rounds; i++)
		acc = ops_table[i & 1](acc, i);
	return acc;
}

noinline u64 do_work(u64 n)
{
	u64 r = fib(n) + apply_ops(n, 4);

	__atomic_fetch_add(&shared_sum, r, __ATOMIC_RELAXED);
	return r;
}

noinline u64 not_traced_by_filter(u64 x) { return x ^ 0x55; }

u64 workload(u64 n, u64 loops)
{
	u64 total = 0;

	for (u64 i = 0; i < loops; i++) {
		total += do_work(n + (i & 1));
		total = not_traced_by_filter(total);
		cond_resched();
	}
	return total;
}

/* A direct-call trampoline target and a function to attach it to */
noinline int direct_target(int x) { return x * 3; }

int call_direct_target(int n)
{
	int s = 0;

	for (int i = 0; i < n; i++)
		s += direct_target(i);
	return s;
}
