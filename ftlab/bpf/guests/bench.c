/* BPF trampoline cost: a loop calling one traced function, and empty programs of each kind
 * (not in SEC sections: the benchmark attaches them by hand). */
#include <ftlab/runtime.h>

#define PROG __attribute__((section(".text.bpf"), used, __noinline__, patchable_function_entry(0, 0)))

noinline u64 bench_target(u64 x)
{
	return x * 0x9e3779b97f4a7c15ULL + 1;
}

noinline u64 bench_loop(u64 n)
{
	u64 acc = 0;

	for (u64 i = 0; i < n; i++)
		acc = bench_target(acc ^ i);
	return acc;
}

PROG int prog_empty(u64 *ctx)
{
	return 0;
}
