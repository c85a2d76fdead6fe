/* A traced function that sleeps (a voluntary switch) while fexit's trampoline waits. */
#include <ftlab/bpf.h>

u64 exits;

noinline u64 sleepy(u64 x)
{
	cond_resched();
	return x + 1;
}

u64 sleeper(u64 n)
{
	u64 s = 0;

	for (u64 i = 0; i < n; i++)
		s += sleepy(i);
	return s;
}

SEC("fexit/sleepy")
int BPF_PROG(after_sleepy, u64 x, u64 ret)
{
	exits++;
	return 0;
}
