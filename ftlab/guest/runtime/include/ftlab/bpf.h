/* ftlab's BPF environment: programs are guest C functions taking u64 *ctx, as a JIT-compiled
 * BPF program is native code taking ctx. Names and conventions follow libbpf (bpf_helpers.h,
 * bpf_tracing.h) and the kernel's bpf_experimental.h. */
#ifndef FTLAB_BPF_H
#define FTLAB_BPF_H

#include <ftlab/trace.h>

/* SEC("fentry/FUNC"), SEC("fexit/FUNC"), SEC("fmod_ret/FUNC"), SEC("fentry.multi/GLOB"),
 * SEC("fexit.multi/GLOB"): ftlab attaches every program it finds, as a skeleton does.
 * Programs are built without patchable entries (a JIT image has none). */
#define SEC(name) \
	__attribute__((section(name), used, __noinline__, patchable_function_entry(0, 0)))

/* BPF_PROG(name, args...): each ctx[i] converted to the declared argument type (directly,
 * not through void * as libbpf does: on a 32-bit ISA that would drop a u64's high word) */
/* up to 12 arguments and, for fexit, the return value after them */
#define ___bpf_nth(_, _1, _2, _3, _4, _5, _6, _7, _8, _9, _a, _b, _c, _d, N, ...) N
#define ___bpf_narg(...) \
	___bpf_nth(_, ##__VA_ARGS__, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define ___bpf_concat(a, b) a##b
#define ___bpf_apply(fn, n) ___bpf_concat(fn, n)
#define ___bpf_ctx_cast0() ctx
#define ___bpf_ctx_cast1(x) ___bpf_ctx_cast0(), ctx[0]
#define ___bpf_ctx_cast2(x, args...) ___bpf_ctx_cast1(args), ctx[1]
#define ___bpf_ctx_cast3(x, args...) ___bpf_ctx_cast2(args), ctx[2]
#define ___bpf_ctx_cast4(x, args...) ___bpf_ctx_cast3(args), ctx[3]
#define ___bpf_ctx_cast5(x, args...) ___bpf_ctx_cast4(args), ctx[4]
#define ___bpf_ctx_cast6(x, args...) ___bpf_ctx_cast5(args), ctx[5]
#define ___bpf_ctx_cast7(x, args...) ___bpf_ctx_cast6(args), ctx[6]
#define ___bpf_ctx_cast8(x, args...) ___bpf_ctx_cast7(args), ctx[7]
#define ___bpf_ctx_cast9(x, args...) ___bpf_ctx_cast8(args), ctx[8]
#define ___bpf_ctx_cast10(x, args...) ___bpf_ctx_cast9(args), ctx[9]
#define ___bpf_ctx_cast11(x, args...) ___bpf_ctx_cast10(args), ctx[10]
#define ___bpf_ctx_cast12(x, args...) ___bpf_ctx_cast11(args), ctx[11]
#define ___bpf_ctx_cast13(x, args...) ___bpf_ctx_cast12(args), ctx[12]
#define ___bpf_ctx_cast(args...) ___bpf_apply(___bpf_ctx_cast, ___bpf_narg(args))(args)

#define BPF_PROG(name, args...)							\
	name(unsigned long long *ctx);						\
	static __attribute__((always_inline)) typeof(name(0))			\
	____##name(unsigned long long *ctx, ##args);				\
	typeof(name(0)) name(unsigned long long *ctx)				\
	{									\
		_Pragma("GCC diagnostic push")					\
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")		\
		_Pragma("GCC diagnostic ignored \"-Wpointer-to-int-cast\"")	\
		return ____##name(___bpf_ctx_cast(args));			\
		_Pragma("GCC diagnostic pop")					\
	}									\
	static __attribute__((always_inline)) typeof(name(0))			\
	____##name(unsigned long long *ctx, ##args)

/* the kernel's helpers, as ftlab's runtime provides them */
int bpf_trace_printk(const char *fmt, ...);
#define bpf_printk(fmt, ...)							\
	({									\
		static const char ____fmt[] = fmt;				\
		bpf_trace_printk(____fmt, ##__VA_ARGS__);			\
	})

/* ctx[-1]: the number of argument slots; ctx[-2]: the traced function's ip */
u64 bpf_get_func_ip(void *ctx);

static inline __attribute__((always_inline)) u64 bpf_get_func_arg_cnt(void *ctx)
{
	return ((u64 *)ctx)[-1];
}

static inline __attribute__((always_inline)) long bpf_get_func_arg(void *ctx, u32 n, u64 *value)
{
	if ((u64)n >= ((u64 *)ctx)[-1]) {
		*value = 0;
		return -22; /* -EINVAL */
	}
	*value = ((u64 *)ctx)[n];
	return 0;
}

static inline __attribute__((always_inline)) long bpf_get_func_ret(void *ctx, u64 *value)
{
	*value = ((u64 *)ctx)[((u64 *)ctx)[-1]];
	return 0;
}

/* bpf_get_stack-style: return addresses from the program's caller outwards, by frame pointers;
 * returns the number of bytes written */
long bpf_get_stack(void *ctx, u64 *buf, u32 size, u64 flags);

/* BPF exceptions (bpf_experimental.h): the program marked __exception_cb(cb) is the
 * boundary; bpf_throw(cookie) from it or anything it calls unwinds to it, runs cb(cookie) on
 * its frame, and the program returns cb's result */
#define __exception_cb(name) __attribute__((btf_decl_tag("exception_callback:" #name)))
__attribute__((noreturn)) void bpf_throw(u64 cookie);

#endif
