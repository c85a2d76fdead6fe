/* ftlab guest runtime: what a guest "kernel" sees of the machine.
 * Layouts here are mirrored by ftlab/guest/abi.py; keep both in step. */
#ifndef FTLAB_RUNTIME_H
#define FTLAB_RUNTIME_H

#define FTLAB_MAX_TASKS 64
#define FTLAB_MAX_CPUS 16

#ifndef __ASSEMBLER__

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
/* 8-byte aligned on every ISA (i386 aligns long long to 4 in structs): shared layouts stay
 * the same, and 64-bit atomics on them are inline instructions (cmpxchg8b), not libcalls */
typedef unsigned long long u64 __attribute__((aligned(8)));
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64 __attribute__((aligned(8)));
typedef unsigned long size_t;

/* A pointer the control plane reads and writes as 8 bytes on every ISA: a 32-bit ISA keeps
 * it in the low half of an 8-byte slot (little-endian), so shared layouts do not depend on
 * the pointer size. FT_PTR names a struct field, FT_PTR_VAR is the type of a global (`.p`). */
#define FT_PTR(type, name) union { type name; u64 name##_slot; }
#define FT_PTR_VAR(type) union { type p; u64 slot; }

/* The kernel's notrace: no patchable entry for this function. */
#define notrace __attribute__((patchable_function_entry(0, 0)))
#define noinline __attribute__((noinline))

struct ftlab_task {
	u64 pid;
	char comm[16];
	u64 entry;
	u64 args[6];
	u64 iterations;
	u64 result;
	u64 cpu;
	u64 stack_top;
	u64 done_iters;
	u64 tracer[8]; /* per-task tracer state (recursion bits, return stack) */
};

struct ftlab_percpu {
	u64 self; /* an ISA addressing per-CPU data through a segment reads it at offset 0 */
	u64 cpu;
	FT_PTR(struct ftlab_task *, cur_task);
	u64 irq_depth;
	u64 need_resched;
	u64 online;
	u64 preempt_count; /* the scheduler never preempts a task while it is non-zero */
	u64 irqs_off; /* interrupts are held back while set */
	u64 reserved[8];
};

enum ftlab_mcall_nr {
	FTLAB_MCALL_EXIT = 0,
	FTLAB_MCALL_YIELD = 1,
	FTLAB_MCALL_IRQ_RETURN = 2,
	FTLAB_MCALL_PUTS = 3,
	FTLAB_MCALL_BUG = 4,
	FTLAB_MCALL_DUMP_STACK = 5,
};

extern struct ftlab_task ftlab_tasks[FTLAB_MAX_TASKS];
extern struct ftlab_percpu ftlab_percpu[FTLAB_MAX_CPUS];

/* A call into the machine: the emulator stops at this function's address. */
unsigned long ftlab_mcall(unsigned long nr, unsigned long a0, unsigned long a1,
			   unsigned long a2);

/* arch_this_cpu(), arch_read_cycles(): the per-ISA header the build names */
#include FTLAB_ARCH_HEADER

static inline __attribute__((always_inline)) struct ftlab_percpu *this_cpu(void)
{
	return arch_this_cpu();
}

static inline __attribute__((always_inline)) int smp_processor_id(void)
{
	return (int)this_cpu()->cpu;
}

static inline __attribute__((always_inline)) struct ftlab_task *get_current(void)
{
	return this_cpu()->cur_task;
}
#define current get_current()

static inline __attribute__((always_inline)) void preempt_disable_notrace(void)
{
	this_cpu()->preempt_count++;
	__asm__ volatile("" ::: "memory");
}

static inline __attribute__((always_inline)) void preempt_enable_notrace(void)
{
	__asm__ volatile("" ::: "memory");
	this_cpu()->preempt_count--;
}

#define _THIS_IP_ ({ __label__ __here; __here: (u64)&&__here; })

/* A voluntary switch point, as the kernel's cond_resched(). */
void cond_resched(void);
void ftlab_puts(const char *s);
/* Record a frame-pointer backtrace of the caller, as the kernel's dump_stack(). */
void dump_stack(void);
__attribute__((noreturn)) void ftlab_bug(const char *msg);

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif /* __ASSEMBLER__ */
#endif
