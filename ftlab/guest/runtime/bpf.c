/* BPF program runs from trampolines: the recursion guard. Linked after the rest of the runtime
 * so that adding to it moves no other runtime code. */
#include <ftlab/runtime.h>

/* A program's recursion state (prog->active per CPU, bpf_prog_stats.misses), laid out by ftlab
 * (ftlab.bpf.attach): a run nested on the same CPU is skipped and counted, as the kernel's
 * __bpf_prog_enter_recur does (kernel/bpf/trampoline.c). Enter returns the CPU's counter for
 * exit, or 0 to skip the program. The kernel keeps a running program on its CPU with
 * migrate_disable(); ftlab's scheduler may move a preempted task, so exit drops the counter
 * enter took, wherever the task is then. As in a preemptible kernel, a program preempted on
 * a CPU makes another task's run of it there a miss. */
struct ftlab_bpf_prog_state {
	u64 recursion_misses;
	u64 active[FTLAB_MAX_CPUS];
};

u64 *__bpf_prog_enter_recur(struct ftlab_bpf_prog_state *st)
{
	u64 *active = &st->active[this_cpu()->cpu];

	if (__atomic_add_fetch(active, 1, __ATOMIC_RELAXED) != 1) {
		__atomic_fetch_sub(active, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&st->recursion_misses, 1, __ATOMIC_RELAXED);
		return 0;
	}
	return active;
}

void __bpf_prog_exit_recur(u64 *active)
{
	__atomic_fetch_sub(active, 1, __ATOMIC_RELAXED);
}
