/* ftlab tracing ABI: ftrace_regs, ftrace_ops, trace arrays, ring buffers and events.
 * Mirrored by ftlab/ftrace/abi.py; runtime/ftrace.c checks the offsets with _Static_assert. */
#ifndef FTLAB_TRACE_H
#define FTLAB_TRACE_H

#include <ftlab/runtime.h>

/* ftrace_regs as every ftrace_caller in runtime/arch/ fills it */
#define FREGS_ARGS 0 /* u64[8]: argument registers (ISAs with fewer use the first) */
#define FREGS_RET 64 /* the return-value register where it is not an argument register */
#define FREGS_FP 72 /* the frame pointer at function entry: the caller's frame */
#define FREGS_SP 80 /* the stack pointer at function entry */
#define FREGS_IP 88 /* where the traced function resumes */
#define FREGS_PARENT 96 /* the return address into the caller */
#define FREGS_DIRECT 104 /* set by call_direct_funcs: leave through this trampoline */
#define FREGS_PARENT_SLOT 112 /* where the parent return address is kept (graph rewrites it) */
#define FREGS_SIZE 144

#define OPS_FUNC 0
#define OPS_NEXT 8
#define OPS_FLAGS 16
#define OPS_PRIVATE 24
#define OPS_FILTER 32 /* struct ftrace_hash *: NULL traces every function */
#define OPS_NOTRACE 40 /* struct ftrace_hash *: NULL excludes none */
#define OPS_DIRECT_CALL 64 /* FTRACE_OPS_DIRECT_CALL: read by ftrace_caller's fast path */
#define OPS_TRAMPOLINE 72
#define OPS_CALLS 80
#define OPS_SIZE 96

#ifndef __ASSEMBLER__
struct ftrace_regs {
	u64 args[8];
	u64 ret;
	u64 fp;
	u64 sp;
	u64 ip;
	u64 parent;
	u64 direct_tramp;
	u64 parent_slot;
	u64 scratch[3];
};

struct ftrace_ops;
typedef void (*ftrace_func_t)(u64 ip, u64 parent_ip, struct ftrace_ops *op,
			      struct ftrace_regs *fregs);

/* FTRACE_OPS_FL_* as used here (include/linux/ftrace.h names) */
#define FTRACE_OPS_FL_ENABLED (1ULL << 0)
#define FTRACE_OPS_FL_STUB (1ULL << 6)
#define FTRACE_OPS_FL_DIRECT (1ULL << 17)

/* A hash of rec->ip values: sorted, published by one pointer store (as the kernel's RCU
 * protected ops->func_hash), never freed while a task may be reading it. */
struct ftrace_hash {
	u64 count;
	u64 ips[];
};

struct ftrace_ops {
	FT_PTR(ftrace_func_t, func);
	FT_PTR(struct ftrace_ops *, next);
	u64 flags;
	FT_PTR(void *, private);
	FT_PTR(struct ftrace_hash *, filter_hash);
	FT_PTR(struct ftrace_hash *, notrace_hash);
	u64 pad0[2];
	u64 direct_call;
	u64 trampoline;
	u64 calls;
	u64 pad;
};

/* trace_array: one per instance */
#define TRACE_ITER_FUNC_STACK_TRACE (1ULL << 0)
#define TRACE_ITER_STACKTRACE (1ULL << 1)
#define TRACE_ITER_GRAPH_IRQS (1ULL << 2)

#define TRACE_CLOCK_COUNTER 0
#define TRACE_CLOCK_LOCAL 1

struct ring_buffer {
	FT_PTR(u8 *, data);
	u64 size; /* bytes */
	u64 head; /* monotonic write position */
	u64 tail; /* monotonic position of the oldest event kept */
	u64 entries; /* events written (entries-written) */
	u64 overrun; /* events overwritten before being read */
	u64 read; /* monotonic consumer position (trace_pipe) */
	u64 commit; /* events before this position are complete */
	u64 nest; /* writers in progress on this CPU (an interrupt may nest) */
	u64 pad[7];
};

struct trace_array {
	u64 flags;
	u64 clock;
	u64 tracing_on;
	u64 max_graph_depth; /* 0: no limit */
	u64 pid_filter; /* 0: every task */
	u64 pad[3];
	FT_PTR_VAR(struct ring_buffer *) buffers[FTLAB_MAX_CPUS];
};

/* Per-task function_graph return stack (kernel: current->ret_stack) */
struct trace_array;
struct ftrace_ret_stack {
	u64 ret; /* the original return address */
	u64 func;
	u64 calltime;
	FT_PTR(struct trace_array *, tr);
};
#define FTLAB_RET_STACK_DEPTH 64

/* per-task tracer state, kept in struct ftlab_task.tracer[] */
#define TASK_TR_RECURSION 0 /* recursion bits, one per context level */
#define TASK_TR_RET_STACK 1 /* struct ftrace_ret_stack * */
#define TASK_TR_CURR_RET 2 /* entries in use */
#define TASK_TR_GRAPH_DEPTH 3
#define TASK_TR_RCU_QS 4 /* RCU-tasks quiescent states passed (cond_resched, exit) */

/* Events: a 24-byte header, then the payload; sizes are multiples of 8. */
enum trace_type {
	TRACE_PAD = 0,
	TRACE_FN = 1, /* ip, parent_ip */
	TRACE_GRAPH_ENT = 2, /* func */
	TRACE_GRAPH_RET = 3, /* func, calltime, rettime */
	TRACE_BPRINT = 4, /* ip, fmt, nwords, words[]: u64 per argument, %s inlined */
	TRACE_STACK = 5, /* nr, ips[nr] */
	TRACE_PRINT = 6, /* ip, len, bytes */
};

#define TRACE_FLAG_IRQS_OFF 0x01
#define TRACE_FLAG_NEED_RESCHED 0x04
#define TRACE_FLAG_HARDIRQ 0x08

struct trace_entry {
	u16 type;
	u16 size;
	u8 flags;
	u8 preempt_count;
	u16 depth; /* function_graph depth */
	u32 pid;
	u32 cpu;
	u64 ts;
};

#define FTLAB_STACK_MAX 32
#endif /* __ASSEMBLER__ */
#endif

#ifndef __ASSEMBLER__
int __trace_bprintk(u64 ip, const char *fmt, ...);
#define trace_printk(fmt, ...) __trace_bprintk(_THIS_IP_, fmt, ##__VA_ARGS__)
#endif
