/* x86_64 parts of the runtime, included by runtime.h (FTLAB_ARCH_HEADER). */
#ifndef FTLAB_ARCH_X86_64_H
#define FTLAB_ARCH_X86_64_H

/* the per-CPU area's first word points at itself, read through %gs (arch/x86 this_cpu_read) */
static inline __attribute__((always_inline)) struct ftlab_percpu *arch_this_cpu(void)
{
	struct ftlab_percpu *p;

	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}

static inline u64 arch_read_cycles(void)
{
	u32 lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

#endif
