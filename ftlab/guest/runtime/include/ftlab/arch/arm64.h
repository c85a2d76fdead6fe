/* arm64 parts of the runtime, included by runtime.h (FTLAB_ARCH_HEADER). */
#ifndef FTLAB_ARCH_ARM64_H
#define FTLAB_ARCH_ARM64_H

/* the kernel keeps the per-CPU offset in TPIDR_EL1 */
static inline __attribute__((always_inline)) struct ftlab_percpu *arch_this_cpu(void)
{
	struct ftlab_percpu *p;

	__asm__ volatile("mrs %0, tpidr_el1" : "=r"(p));
	return p;
}

static inline u64 arch_read_cycles(void)
{
	u64 v;

	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
	return v;
}

#endif
