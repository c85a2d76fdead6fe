/* ftlab guest runtime, built without patchable entries as the kernel's notrace code. */
#include <ftlab/runtime.h>

#define OFFSET_CHECK(type, field, off) \
	_Static_assert(__builtin_offsetof(type, field) == (off), #type "." #field)
/* Mirrored by ftlab/guest/abi.py */
OFFSET_CHECK(struct ftlab_task, pid, 0);
OFFSET_CHECK(struct ftlab_task, comm, 8);
OFFSET_CHECK(struct ftlab_task, entry, 24);
OFFSET_CHECK(struct ftlab_task, args, 32);
OFFSET_CHECK(struct ftlab_task, iterations, 80);
OFFSET_CHECK(struct ftlab_task, result, 88);
OFFSET_CHECK(struct ftlab_task, cpu, 96);
OFFSET_CHECK(struct ftlab_task, stack_top, 104);
OFFSET_CHECK(struct ftlab_task, done_iters, 112);
OFFSET_CHECK(struct ftlab_task, tracer, 120);
_Static_assert(sizeof(struct ftlab_task) == 184, "ftlab_task size");
OFFSET_CHECK(struct ftlab_percpu, self, 0);
OFFSET_CHECK(struct ftlab_percpu, cpu, 8);
OFFSET_CHECK(struct ftlab_percpu, cur_task, 16);
OFFSET_CHECK(struct ftlab_percpu, irq_depth, 24);
OFFSET_CHECK(struct ftlab_percpu, need_resched, 32);
OFFSET_CHECK(struct ftlab_percpu, online, 40);
OFFSET_CHECK(struct ftlab_percpu, preempt_count, 48);
OFFSET_CHECK(struct ftlab_percpu, irqs_off, 56);
_Static_assert(sizeof(struct ftlab_percpu) == 128, "ftlab_percpu size");

struct ftlab_task ftlab_tasks[FTLAB_MAX_TASKS];
struct ftlab_percpu ftlab_percpu[FTLAB_MAX_CPUS];

/* The entry gets the task's args[] as register-sized words (6 on a 64-bit ISA, 12 on a
 * 32-bit one): the machine lays the arguments out in them as the ISA's calling convention
 * passes them (ArchInfo.entry_words), so one call serves every prototype */
typedef unsigned long ulong;
typedef u64 (*ftlab_entry_fn)(ulong, ulong, ulong, ulong, ulong, ulong, ulong, ulong, ulong,
			      ulong, ulong, ulong);
#define W(i) (i < sizeof(t->args) / sizeof(ulong) ? ((ulong *)t->args)[i] : 0)

__attribute__((noreturn)) void ftlab_task_main(void)
{
	struct ftlab_task *t = current;
	ftlab_entry_fn fn = (ftlab_entry_fn)(unsigned long)t->entry;

	while (t->done_iters < t->iterations) {
		t->result = fn(W(0), W(1), W(2), W(3), W(4), W(5), W(6), W(7), W(8), W(9), W(10),
			       W(11));
		t->done_iters++;
		cond_resched(); /* a voluntary switch point between invocations */
	}
	ftlab_mcall(FTLAB_MCALL_EXIT, t->result, 0, 0);
	__builtin_unreachable();
}

void cond_resched(void)
{
	/* a voluntary switch point is an RCU-tasks quiescent state (rcu_tasks_qs()) */
	struct ftlab_task *t = current;

	if (t)
		t->tracer[4]++;
	if (this_cpu()->need_resched)
		ftlab_mcall(FTLAB_MCALL_YIELD, 0, 0, 0);
}

/* Interrupt entry: the machine saved the interrupted context and calls this on its stack. */
__attribute__((noreturn)) void ftlab_irq_entry(void (*handler)(u64), unsigned long arg)
{
	struct ftlab_percpu *pc = this_cpu();

	pc->irq_depth++;
	handler(arg);
	pc->irq_depth--;
	ftlab_mcall(FTLAB_MCALL_IRQ_RETURN, 0, 0, 0);
	__builtin_unreachable();
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

void ftlab_puts(const char *s)
{
	ftlab_mcall(FTLAB_MCALL_PUTS, (unsigned long)s, strlen(s), 0);
}

void dump_stack(void)
{
	ftlab_mcall(FTLAB_MCALL_DUMP_STACK, 0, 0, 0);
}

void ftlab_bug(const char *msg)
{
	ftlab_mcall(FTLAB_MCALL_BUG, (unsigned long)msg, strlen(msg), 0);
	__builtin_unreachable();
}

/* The compiler emits calls to these for struct copies and large initialisers.
 * volatile keeps clang from turning the loops back into calls to themselves. */
void *memcpy(void *dst, const void *src, size_t n)
{
	volatile u8 *d = dst;
	const u8 *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	volatile u8 *d = dst;
	const u8 *s = src;

	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else {
		while (n--)
			d[n] = s[n];
	}
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	volatile u8 *d = dst;

	while (n--)
		*d++ = (u8)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}
