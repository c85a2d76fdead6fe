/* x86_32 parts of the runtime, included by runtime.h (FTLAB_ARCH_HEADER). */
#ifndef FTLAB_ARCH_X86_32_H
#define FTLAB_ARCH_X86_32_H

/* %gs is a segment based at this hart's per-CPU area (a per-hart GDT entry, see
 * ftlab/arch/x86_32/info.py), whose first word points at itself */
static inline __attribute__((always_inline)) struct ftlab_percpu *arch_this_cpu(void)
{
	struct ftlab_percpu *p;

	__asm__ volatile("movl %%gs:0, %0" : "=r"(p));
	return p;
}

static inline u64 arch_read_cycles(void)
{
	u32 lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

#endif
