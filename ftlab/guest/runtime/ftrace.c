/*
 * The per-call data path of ftlab's ftrace, in guest code: the list function, the function
 * and function_graph tracers, the ring buffer writer, stack traces and trace_printk.
 * Mirrors kernel/trace/ftrace.c, trace_functions.c, trace_functions_graph.c and
 * ring_buffer.c in spirit; written for ftlab. Built notrace, as the kernel builds these.
 */
#include <ftlab/trace.h>

#define OFF(type, field, off) \
	_Static_assert(__builtin_offsetof(type, field) == (off), #type "." #field)
OFF(struct ftrace_regs, args, FREGS_ARGS);
OFF(struct ftrace_regs, ret, FREGS_RET);
OFF(struct ftrace_regs, fp, FREGS_FP);
OFF(struct ftrace_regs, sp, FREGS_SP);
OFF(struct ftrace_regs, ip, FREGS_IP);
OFF(struct ftrace_regs, parent, FREGS_PARENT);
OFF(struct ftrace_regs, direct_tramp, FREGS_DIRECT);
OFF(struct ftrace_regs, parent_slot, FREGS_PARENT_SLOT);
_Static_assert(sizeof(struct ftrace_regs) == FREGS_SIZE, "ftrace_regs size");
OFF(struct ftrace_ops, func, OPS_FUNC);
OFF(struct ftrace_ops, next, OPS_NEXT);
OFF(struct ftrace_ops, flags, OPS_FLAGS);
OFF(struct ftrace_ops, private, OPS_PRIVATE);
OFF(struct ftrace_ops, filter_hash, OPS_FILTER);
OFF(struct ftrace_ops, notrace_hash, OPS_NOTRACE);
OFF(struct ftrace_ops, direct_call, OPS_DIRECT_CALL);
OFF(struct ftrace_ops, trampoline, OPS_TRAMPOLINE);
OFF(struct ftrace_ops, calls, OPS_CALLS);
_Static_assert(sizeof(struct ftrace_ops) == OPS_SIZE, "ftrace_ops size");
OFF(struct ring_buffer, commit, 56);
OFF(struct ring_buffer, nest, 64);
_Static_assert(sizeof(struct ring_buffer) == 128, "ring_buffer size");
OFF(struct trace_array, buffers, 64);
_Static_assert(sizeof(struct trace_entry) == 24, "trace_entry size");
_Static_assert(sizeof(struct ftrace_ret_stack) == 32, "ret_stack entry size");

void ftrace_stub(u64 ip, u64 parent_ip, struct ftrace_ops *op, struct ftrace_regs *fregs)
{
}

void ftrace_ops_list_func(u64 ip, u64 parent_ip, struct ftrace_ops *op,
			  struct ftrace_regs *fregs);

/* The list of registered ops ends in ftrace_list_end (kernel/trace/ftrace.c). */
struct ftrace_ops ftrace_list_end = { .func = ftrace_stub, .flags = FTRACE_OPS_FL_STUB };
FT_PTR_VAR(struct ftrace_ops *) ftrace_ops_list = { &ftrace_list_end };
/* What ftrace_caller passes as `op` without CALL_OPS */
FT_PTR_VAR(struct ftrace_ops *) function_trace_op = { &ftrace_list_end };
/* CALL_OPS literals: no ops (a disabled site) and several ops (go through the list) */
struct ftrace_ops ftrace_nop_ops = { .func = ftrace_stub, .flags = FTRACE_OPS_FL_STUB };
struct ftrace_ops ftrace_list_ops = { .func = ftrace_ops_list_func,
				      .flags = FTRACE_OPS_FL_STUB };
/* schemes whose ftrace_caller calls through a variable (no CALL_OPS) read it here */
FT_PTR_VAR(ftrace_func_t) ftrace_call_dest = { ftrace_stub };
/* the kernel's `counter` trace clock: a global atomic increment */
u64 trace_clock_counter;
/* trace_printk()'s destination: the top-level instance */
FT_PTR_VAR(struct trace_array *) ftlab_printk_tr;
/* calls seen by the test direct trampoline (runtime/arch/<isa>.S) */
u64 ftlab_direct_calls;
/* graph-return bookkeeping errors (a return with an empty return stack) */
u64 ftlab_graph_errors;

extern char return_to_handler[];

/* ---- recursion protection (include/linux/trace_recursion.h, simplified) ------------------ */
enum { TRACE_LIST_START = 0, TRACE_FTRACE = 1, TRACE_GRAPH = 2, TRACE_PRINTK = 3 };

static inline int trace_recursion_enter(int kind)
{
	struct ftlab_percpu *pc = this_cpu();
	struct ftlab_task *t = pc->cur_task;
	u64 bit;

	if (!t)
		return -1;
	bit = 1ULL << (kind * 2 + (pc->irq_depth ? 1 : 0));
	if (t->tracer[TASK_TR_RECURSION] & bit)
		return -1;
	t->tracer[TASK_TR_RECURSION] |= bit;
	return (int)(kind * 2 + (pc->irq_depth ? 1 : 0));
}

static inline void trace_recursion_exit(int bit)
{
	current->tracer[TASK_TR_RECURSION] &= ~(1ULL << bit);
}

/* ---- ops hashes: sorted arrays of rec->ip ---------------------------------------------- */
static int hash_contains(const struct ftrace_hash *hash, u64 ip)
{
	u64 lo = 0, hi = hash->count;

	while (lo < hi) {
		u64 mid = lo + (hi - lo) / 2;

		if (hash->ips[mid] == ip)
			return 1;
		if (hash->ips[mid] < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* ftrace_ops_test(): an empty filter hash traces every function */
static int ftrace_ops_test(struct ftrace_ops *op, u64 ip)
{
	struct ftrace_hash *filter = __atomic_load_n(&op->filter_hash, __ATOMIC_ACQUIRE);
	struct ftrace_hash *skip = __atomic_load_n(&op->notrace_hash, __ATOMIC_ACQUIRE);

	if (filter && !hash_contains(filter, ip))
		return 0;
	if (skip && hash_contains(skip, ip))
		return 0;
	return 1;
}

void ftrace_ops_list_func(u64 ip, u64 parent_ip, struct ftrace_ops *ignored,
			  struct ftrace_regs *fregs)
{
	struct ftrace_ops *op;
	int bit = trace_recursion_enter(TRACE_LIST_START);

	if (bit < 0)
		return;
	preempt_disable_notrace();
	for (op = __atomic_load_n(&ftrace_ops_list.p, __ATOMIC_ACQUIRE); op != &ftrace_list_end;
	     op = __atomic_load_n(&op->next, __ATOMIC_ACQUIRE)) {
		if (op->flags & FTRACE_OPS_FL_STUB)
			continue;
		if (ftrace_ops_test(op, ip))
			op->func(ip, parent_ip, op, fregs);
	}
	preempt_enable_notrace();
	trace_recursion_exit(bit);
}

/* The callback of a direct ops on the list path: leave through its trampoline
 * (kernel/trace/ftrace.c call_direct_funcs). */
void call_direct_funcs(u64 ip, u64 parent_ip, struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	fregs->direct_tramp = op->direct_call;
}

/* The empty callback of samples/ftrace/ftrace-ops.c (ops_func_nop) */
void ops_func_nop(u64 ip, u64 parent_ip, struct ftrace_ops *op, struct ftrace_regs *fregs)
{
}

/* A callback that counts its calls, for tests and benchmarks */
void ops_func_count(u64 ip, u64 parent_ip, struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	__atomic_fetch_add(&op->calls, 1, __ATOMIC_RELAXED);
}

/* ---- trace clock ---------------------------------------------------------------------- */
u64 ftlab_read_cycles(void)
{
	return arch_read_cycles();
}

/* Deterministic guest time, in ns: each CPU's retired instructions at a nominal 1 GHz. The
 * machine (ftlab/ftrace/guest_time.py) stores this CPU's count into its slot when a hart
 * enters ftlab_local_clock, so the value is exact to the instruction; without the machine's
 * hook the slots stay 0. */
u64 ftlab_guest_clock[FTLAB_MAX_CPUS];

notrace noinline u64 ftlab_local_clock(void)
{
	return __atomic_load_n(&ftlab_guest_clock[this_cpu()->cpu], __ATOMIC_RELAXED);
}

/* every clock but `counter` reads the guest time (trace_clock_local and its relatives) */
static inline u64 trace_clock(struct trace_array *tr)
{
	if (tr->clock == TRACE_CLOCK_COUNTER)
		return __atomic_add_fetch(&trace_clock_counter, 1, __ATOMIC_RELAXED);
	return ftlab_local_clock();
}

/* ---- ring buffer ------------------------------------------------------------------------ */
static void rb_make_room(struct ring_buffer *rb, u64 len)
{
	while (rb->head + len - rb->tail > rb->size) {
		struct trace_entry *old = (void *)(rb->data + rb->tail % rb->size);

		if (old->type != TRACE_PAD)
			rb->overrun++;
		rb->tail += old->size;
	}
	if (rb->read < rb->tail)
		rb->read = rb->tail;
}

static u8 trace_flags(struct ftlab_percpu *pc)
{
	u8 flags = 0;

	if (pc->irqs_off)
		flags |= TRACE_FLAG_IRQS_OFF;
	if (pc->need_resched)
		flags |= TRACE_FLAG_NEED_RESCHED;
	if (pc->irq_depth)
		flags |= TRACE_FLAG_HARDIRQ;
	return flags;
}

/* Reserve an event with `payload` bytes after the header; rb_commit() publishes it.
 * Preemption is off around both: only an interrupt can nest. */
static struct trace_entry *rb_reserve(struct trace_array *tr, u16 type, u64 payload, u16 depth)
{
	struct ftlab_percpu *pc = this_cpu();
	struct ring_buffer *rb = tr->buffers[pc->cpu].p;
	u64 len = (sizeof(struct trace_entry) + payload + 7) & ~7ULL;
	struct trace_entry *e;
	u64 off;

	if (!rb || len > rb->size / 4)
		return 0;
	rb->nest++;
	off = rb->head % rb->size;
	if (off + len > rb->size) {
		u64 pad = rb->size - off;

		rb_make_room(rb, pad);
		e = (void *)(rb->data + off);
		e->type = TRACE_PAD;
		e->size = (u16)pad;
		rb->head += pad;
	}
	rb_make_room(rb, len);
	e = (void *)(rb->data + rb->head % rb->size);
	rb->head += len;
	rb->entries++;
	e->type = type;
	e->size = (u16)len;
	e->flags = trace_flags(pc);
	/* the tracer's own preempt_disable does not count, as in the kernel */
	e->preempt_count = (u8)(pc->preempt_count ? pc->preempt_count - 1 : 0);
	e->depth = depth;
	e->pid = pc->cur_task ? (u32)pc->cur_task->pid : 0;
	e->cpu = (u32)pc->cpu;
	e->ts = trace_clock(tr);
	return e;
}

static void rb_commit(struct trace_array *tr)
{
	struct ring_buffer *rb = tr->buffers[this_cpu()->cpu].p;

	if (--rb->nest == 0)
		__atomic_store_n(&rb->commit, rb->head, __ATOMIC_RELEASE);
}

static inline u64 *payload(struct trace_entry *e)
{
	return (u64 *)(e + 1);
}

static int trace_pid_ok(struct trace_array *tr)
{
	struct ftlab_task *t = current;

	return !tr->pid_filter || (t && t->pid == tr->pid_filter);
}

/* ---- stack traces -------------------------------------------------------------------- */
/* the frame record, where ArchInfo.frame says (the build passes its offsets) */
#define FRAME_WORD(fp, off) ((u64) * (unsigned long *)(unsigned long)((fp) + (off)))
#define FRAME_RET(fp) FRAME_WORD(fp, FTLAB_FRAME_RET)
#define FRAME_PREV(fp) FRAME_WORD(fp, FTLAB_FRAME_PREV)

/* A return address the graph tracer replaced: find the original (ftrace_graph_ret_addr) */
static u64 graph_ret_addr(u64 ret, int *idx)
{
	struct ftlab_task *t = current;
	struct ftrace_ret_stack *rs;

	if (ret != (u64)return_to_handler || !t || *idx <= 0)
		return ret;
	rs = (void *)t->tracer[TASK_TR_RET_STACK];
	return rs[--*idx].ret;
}

/* Record ips[0..], then walk the frame-pointer chain from `fp` */
static void trace_stack(struct trace_array *tr, const u64 *first, int nfirst, u64 fp)
{
	u64 ips[FTLAB_STACK_MAX];
	int n = 0, idx = current ? (int)current->tracer[TASK_TR_CURR_RET] : 0;
	struct trace_entry *e;
	u64 lo = current ? current->stack_top - (256 << 10) : 0;
	u64 hi = current ? current->stack_top + 64 : ~0ULL;

	for (int i = 0; i < nfirst && n < FTLAB_STACK_MAX; i++)
		ips[n++] = graph_ret_addr(first[i], &idx);
	while (n < FTLAB_STACK_MAX && fp && !(fp & (sizeof(unsigned long) - 1)) && fp > lo && fp <= hi) {
		u64 ret = FRAME_RET(fp);

		if (!ret)
			break;
		ips[n++] = graph_ret_addr(ret, &idx);
		fp = FRAME_PREV(fp);
	}
	e = rb_reserve(tr, TRACE_STACK, 8 + 8 * (u64)n, 0);
	if (!e)
		return;
	payload(e)[0] = (u64)n;
	for (int i = 0; i < n; i++)
		payload(e)[1 + i] = ips[i];
	rb_commit(tr);
}

/* ---- the function tracer (kernel/trace/trace_functions.c) --------------------------------- */
void function_trace_call(u64 ip, u64 parent_ip, struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	struct trace_array *tr = op->private;
	struct trace_entry *e;
	int bit = trace_recursion_enter(TRACE_FTRACE);

	if (bit < 0)
		return;
	preempt_disable_notrace();
	if (tr->tracing_on && trace_pid_ok(tr)) {
		e = rb_reserve(tr, TRACE_FN, 16, 0);
		if (e) {
			payload(e)[0] = ip;
			payload(e)[1] = parent_ip;
			rb_commit(tr);
		}
		if (tr->flags & TRACE_ITER_FUNC_STACK_TRACE) {
			u64 first[2] = { ip, parent_ip };

			trace_stack(tr, first, 2, fregs->fp);
		}
	}
	preempt_enable_notrace();
	trace_recursion_exit(bit);
}

/* ---- the function_graph tracer ------------------------------------------------------------ */
void ftrace_graph_func(u64 ip, u64 parent_ip, struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	struct trace_array *tr = op->private;
	struct ftlab_task *t = current;
	struct ftrace_ret_stack *rs;
	unsigned long *slot = (unsigned long *)(unsigned long)fregs->parent_slot;
	u64 depth;
	int bit;

	if (!t || !t->tracer[TASK_TR_RET_STACK] || !tr->tracing_on || !trace_pid_ok(tr))
		return;
	if (!(tr->flags & TRACE_ITER_GRAPH_IRQS) && this_cpu()->irq_depth)
		return;
	bit = trace_recursion_enter(TRACE_GRAPH);
	if (bit < 0)
		return;
	preempt_disable_notrace();
	depth = t->tracer[TASK_TR_CURR_RET];
	if (depth < FTLAB_RET_STACK_DEPTH && (!tr->max_graph_depth || depth < tr->max_graph_depth)) {
		struct trace_entry *e;

		rs = (struct ftrace_ret_stack *)t->tracer[TASK_TR_RET_STACK] + depth;
		rs->ret = *slot;
		rs->func = ip;
		rs->tr = tr;
		/* durations come from the local clock whatever trace_clock says, as the
		 * kernel's ftrace_push_return_trace (trace_clock_local) */
		rs->calltime = ftlab_local_clock();
		e = rb_reserve(tr, TRACE_GRAPH_ENT, 8, (u16)depth);
		if (e) {
			payload(e)[0] = ip;
			rb_commit(tr);
		}
		/* publish the entry before the return address points at return_to_handler */
		__atomic_store_n(&t->tracer[TASK_TR_CURR_RET], depth + 1, __ATOMIC_RELEASE);
		*slot = (unsigned long)return_to_handler;
	}
	preempt_enable_notrace();
	trace_recursion_exit(bit);
}

/* Called by return_to_handler (runtime/arch/<isa>.S): log the return, give back the
 * original return address (kernel: ftrace_return_to_handler). */
u64 ftrace_return_to_handler(u64 fp)
{
	struct ftlab_task *t = current;
	struct ftrace_ret_stack *rs;
	struct trace_entry *e;
	u64 depth = t->tracer[TASK_TR_CURR_RET];

	if (!depth) {
		ftlab_graph_errors++;
		ftlab_bug("return_to_handler with an empty return stack");
	}
	depth--;
	rs = (struct ftrace_ret_stack *)t->tracer[TASK_TR_RET_STACK] + depth;
	preempt_disable_notrace();
	u64 rettime = ftlab_local_clock();

	e = rb_reserve(rs->tr, TRACE_GRAPH_RET, 24, (u16)depth);
	if (e) {
		payload(e)[0] = rs->func;
		payload(e)[1] = rs->calltime;
		payload(e)[2] = rettime;
		rb_commit(rs->tr);
	}
	preempt_enable_notrace();
	__atomic_store_n(&t->tracer[TASK_TR_CURR_RET], depth, __ATOMIC_RELEASE);
	return rs->ret;
}

/* ---- trace_printk (binary records, formatted when read: kernel/trace/trace_printk.c) ------- */
#define BPRINT_MAX_WORDS 48

static void trace_vbprintk(u64 ip, const char *fmt, __builtin_va_list ap, u64 *frame)
{
	struct trace_array *tr = ftlab_printk_tr.p;
	u64 words[BPRINT_MAX_WORDS];
	u64 n = 0;
	struct trace_entry *e;
	int bit;

	if (!tr || !tr->tracing_on)
		return;
	bit = trace_recursion_enter(TRACE_PRINTK);
	if (bit < 0)
		return;
	for (const char *p = fmt; *p && n < BPRINT_MAX_WORDS - 1; p++) {
		int lng = 0;

		if (*p != '%')
			continue;
		p++;
		if (*p == '%')
			continue;
		while (*p == '0' || *p == ' ' || *p == '+' || *p == '-' || *p == '#')
			p++;
		while (*p >= '0' && *p <= '9')
			p++;
		while (*p == 'l' || *p == 'z' || *p == 'h') {
			if (*p != 'h')
				lng++;
			p++;
		}
		if (!*p)
			break;
		if (*p == 's') {
			const char *str = __builtin_va_arg(ap, const char *);
			u64 len = 0;

			while (str && str[len] && len < 64)
				len++;
			if (n + 1 + (len + 7) / 8 > BPRINT_MAX_WORDS)
				break;
			words[n++] = len;
			for (u64 i = 0; i < len; i += 8) {
				u64 w = 0;

				for (u64 j = 0; j < 8 && i + j < len; j++)
					w |= (u64)(u8)str[i + j] << (8 * j);
				words[n++] = w;
			}
		} else if (lng >= 2) {
			words[n++] = __builtin_va_arg(ap, u64);
		} else if ((*p == 'd' || *p == 'i') && lng) {
			/* long is register-sized (4 bytes on a 32-bit ISA): sign-extended to a word */
			words[n++] = (u64)(s64)__builtin_va_arg(ap, long);
		} else if (*p == 'p' || lng) {
			words[n++] = __builtin_va_arg(ap, unsigned long);
		} else {
			words[n++] = (u64)(u32)__builtin_va_arg(ap, int);
		}
	}
	preempt_disable_notrace();
	e = rb_reserve(tr, TRACE_BPRINT, 24 + 8 * n, 0);
	if (e) {
		payload(e)[0] = ip;
		payload(e)[1] = (u64)fmt;
		payload(e)[2] = n;
		for (u64 i = 0; i < n; i++)
			payload(e)[3 + i] = words[i];
		rb_commit(tr);
	}
	/* the stacktrace option: a stack after the event, from the printing function's caller */
	if (tr->flags & TRACE_ITER_STACKTRACE) {
		u64 first[1] = { FRAME_RET((u64)frame) };

		trace_stack(tr, first, 1, FRAME_PREV((u64)frame));
	}
	preempt_enable_notrace();
	trace_recursion_exit(bit);
}

int __trace_bprintk(u64 ip, const char *fmt, ...)
{
	__builtin_va_list ap;

	__builtin_va_start(ap, fmt);
	trace_vbprintk(ip, fmt, ap, __builtin_frame_address(0));
	__builtin_va_end(ap);
	return 0;
}

/* bpf_printk's helper: the event names bpf_trace_printk, as the kernel's trace event does */
int bpf_trace_printk(const char *fmt, ...)
{
	__builtin_va_list ap;

	__builtin_va_start(ap, fmt);
	trace_vbprintk((u64)bpf_trace_printk, fmt, ap, __builtin_frame_address(0));
	__builtin_va_end(ap);
	return 0;
}

/* Mass attach: (function address, ctx slots) pairs sorted by address, written by ftlab */
FT_PTR_VAR(u64 *) ftlab_bpf_func_table;
u64 ftlab_bpf_func_count;

u64 ftlab_bpf_func_nslots(u64 ip)
{
	u64 lo = 0, hi = ftlab_bpf_func_count;

	while (lo < hi) {
		u64 mid = lo + (hi - lo) / 2;

		if (ftlab_bpf_func_table.p[2 * mid] == ip)
			return ftlab_bpf_func_table.p[2 * mid + 1];
		if (ftlab_bpf_func_table.p[2 * mid] < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* A shared trampoline keeps the return value after this function's own arguments too */
void ftlab_bpf_store_ret(u64 *ctx, u64 value)
{
	ctx[ctx[-1]] = value;
}

/* The image reference a trampoline holds around the original (kernel/bpf/trampoline.c) */
void __bpf_tramp_enter(u64 *ref)
{
	__atomic_fetch_add(ref, 1, __ATOMIC_ACQ_REL);
}

void __bpf_tramp_exit(u64 *ref)
{
	__atomic_fetch_sub(ref, 1, __ATOMIC_ACQ_REL);
}

/* bpf_throw(): walk frame records (pc, fp) to the exception boundary's thunk, then run the
 * boundary program's callback on that frame (kernel: bpf_throw, arch_bpf_stack_walk) */
extern char ftlab_bpf_boundary_ret[];
__attribute__((noreturn)) void ftlab_bpf_unwind_to(u64 boundary_fp, u64 cookie);

__attribute__((noreturn)) void bpf_throw(u64 cookie)
{
	u64 fp = (u64)__builtin_frame_address(0);

	while (fp && !(fp & (sizeof(unsigned long) - 1))) {
		if (FRAME_RET(fp) == (u64)ftlab_bpf_boundary_ret)
			ftlab_bpf_unwind_to(FRAME_PREV(fp), cookie);
		fp = FRAME_PREV(fp);
	}
	ftlab_bug("bpf_throw() outside an exception boundary program");
}

u64 bpf_get_func_ip(void *ctx)
{
	return ((u64 *)ctx)[-2];
}

long bpf_get_stack(void *ctx, u64 *buf, u32 size, u64 flags)
{
	u64 fp = (u64)__builtin_frame_address(0);
	u32 n = 0;

	while (fp && !(fp & (sizeof(unsigned long) - 1)) && (n + 1) * 8 <= size) {
		u64 ret = FRAME_RET(fp);

		if (!ret)
			break;
		buf[n++] = ret;
		fp = FRAME_PREV(fp);
	}
	return (long)n * 8;
}
