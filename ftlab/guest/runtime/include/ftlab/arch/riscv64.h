/* riscv64 parts of the runtime, included by runtime.h (FTLAB_ARCH_HEADER). */
#ifndef FTLAB_ARCH_RISCV64_H
#define FTLAB_ARCH_RISCV64_H

/* the kernel's tp holds current; ftlab's holds this hart's per-CPU area */
static inline __attribute__((always_inline)) struct ftlab_percpu *arch_this_cpu(void)
{
	struct ftlab_percpu *p;

	__asm__ volatile("mv %0, tp" : "=r"(p));
	return p;
}

static inline u64 arch_read_cycles(void)
{
	u64 v;

	__asm__ volatile("rdcycle %0" : "=r"(v));
	return v;
}

#endif
