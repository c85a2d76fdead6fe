/* Workloads for the machine tests: shared data, switch points, interrupts, call chains. */
#include <ftlab/runtime.h>

u64 shared_counter;
u64 irq_count;
u64 irq_seen_cpu = ~0ULL;
volatile u64 spin_flag;

noinline u64 mix(u64 x)
{
	return x * 6364136223846793005ULL + 1442695040888963407ULL;
}

/* Busy work that passes a voluntary switch point every 64 rounds. */
u64 work(u64 rounds)
{
	u64 h = 0;

	for (u64 i = 0; i < rounds; i++) {
		h = mix(h ^ i);
		__atomic_fetch_add(&shared_counter, 1, __ATOMIC_RELAXED);
		if ((i & 63) == 63)
			cond_resched();
	}
	return h;
}

int whoami(void)
{
	return smp_processor_id();
}

u64 my_pid(void)
{
	return current->pid;
}

void irq_handler(u64 arg)
{
	irq_count += arg;
	irq_seen_cpu = smp_processor_id();
	dump_stack();
}

noinline u64 leaf(u64 n)
{
	u64 acc = 0;

	for (u64 i = 0; i < n; i++)
		acc = mix(acc + i);
	return acc;
}

noinline u64 level3(u64 n) { return leaf(n) + 3; }
noinline u64 level2(u64 n) { return level3(n) + 2; }
noinline u64 level1(u64 n) { return level2(n) + 1; }

u64 chain(u64 n)
{
	return level1(n);
}

int ret_one(void) { return 1; }
int ret_two(void) { return 2; }

int fault_on_cpu1(void)
{
	if (smp_processor_id() == 1)
		*(volatile int *)0 = 1;
	return 7;
}

int trap(void)
{
	__builtin_trap();
	return 0;
}

noinline void die(void)
{
	ftlab_bug("something is wrong");
}

int call_bug(void)
{
	die();
	return 0;
}

struct pair { long a, b; };
struct pair make_pair(long a) { struct pair p = { a, a + 1 }; return p; }

signed char neg_char(int x) { return (signed char)-x; }
unsigned short big_ushort(void) { return 65535; }
_Bool is_odd(int x) { return x & 1; }
void nothing(void) { }
