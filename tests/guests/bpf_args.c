/* Functions with 0 to 12 arguments of mixed widths and signedness, and BPF programs on them. */
#include <ftlab/bpf.h>

struct pair16 { long a; long b; };

u64 seen[16];
u64 seen_ret;
u64 seen_cnt;
u64 seen_ip;
u64 fexit_calls;

u64 f0_calls;
noinline int f0(void) { __atomic_fetch_add(&f0_calls, 1, __ATOMIC_RELAXED); return 42; }
noinline long f3(signed char a, unsigned short b, int c) { return a + b + c; }
noinline long f8(char a, short b, int c, long d, unsigned char e, unsigned short f,
		 unsigned int g, long long h)
{
	return a + b + c + d + e + f + g + h;
}
noinline long f12(long a1, int a2, short a3, signed char a4, unsigned long a5, int a6,
		  long a7, unsigned int a8, short a9, long a10, signed char a11, long a12)
{
	return a1 - a2 + a3 - a4 + (long)a5 - a6 + a7 - (long)a8 + a9 - a10 + a11 - a12;
}
noinline long fstruct(int x, struct pair16 p, long y)
{
	return x + p.a * 3 + p.b * 5 + y;
}
noinline int fmod_target(int x) { return x * 10; }

long call_all(int k)
{
	struct pair16 p = { 7, -9 };
	long s = 0;

	s += f0();
	s += f3(-5, 65000, -100000 + k);
	s += f8(-1, -2, -3, -4, 250, 65500, 4000000000u, -5000000000LL);
	s += f12(1, -2, 3, -4, 5, -6, 7, 8, -9, 10, -11, 12);
	s += fstruct(3, p, -1);
	s += fmod_target(k);
	return s;
}

SEC("fentry/f3")
int BPF_PROG(on_f3, signed char a, unsigned short b, int c)
{
	seen[0] = (u64)(long)a;
	seen[1] = b;
	seen[2] = (u64)(long)c;
	seen_cnt = bpf_get_func_arg_cnt(ctx);
	seen_ip = bpf_get_func_ip(ctx);
	return 0;
}

SEC("fexit/f12")
int BPF_PROG(on_f12, long a1, int a2, short a3, signed char a4, unsigned long a5, int a6,
	     long a7, unsigned int a8, short a9, long a10, signed char a11, long a12, long ret)
{
	seen[3] = (u64)a1; seen[4] = (u64)(long)a2; seen[5] = (u64)(long)a3;
	seen[6] = (u64)(long)a4; seen[7] = a5; seen[8] = (u64)(long)a9; seen[9] = (u64)a10;
	seen[10] = (u64)(long)a11; seen[11] = (u64)a12;
	seen_ret = (u64)ret;
	fexit_calls++;
	return 0;
}

SEC("fmod_ret/fmod_target")
int BPF_PROG(mod_it, int x)
{
	return x == 3 ? 777 : 0;  /* non-zero: skip the original, return this */
}

noinline long fsplit(long a, long b, long c, long d, long e, long f, long g, struct pair16 p,
		     long z)
{
	return a + b + c + d + e + f + g + p.a * 100 + p.b * 1000 + z * 7;
}

noinline int vsum(int n, ...) { return n; }
noinline struct pair16 ret_pair(long x) { struct pair16 p = { x, x }; return p; }

long call_more(int k)
{
	struct pair16 p = { 11, -13 };

	return fsplit(1, 2, 3, 4, 5, 6, 7, p, -17 + k) + f0();
}

u64 struct_seen[4];
u64 split_seen[10];
u64 f0_ret;
u64 f0_cnt;
u64 chain[4];

/* raw ctx: a 16-byte struct takes two slots (BPF_PROG2 territory in libbpf) */
SEC("fentry/fstruct")
int on_fstruct(u64 *ctx)
{
	for (int i = 0; i < 4; i++)
		struct_seen[i] = ctx[i];
	return 0;
}

SEC("fentry/fsplit")
int on_fsplit(u64 *ctx)
{
	for (int i = 0; i < 10; i++)
		split_seen[i] = ctx[i];
	return 0;
}

SEC("fexit/f0")
int on_f0_exit(u64 *ctx)
{
	u64 r;

	bpf_get_func_ret(ctx, &r);
	f0_ret = r;
	f0_cnt = bpf_get_func_arg_cnt(ctx);
	return 0;
}

SEC("fmod_ret/fmod_target")
int BPF_PROG(mod_second, int x)
{
	chain[0]++;  /* skipped when mod_it already returned non-zero */
	return 0;
}

SEC("fexit/fmod_target")
int BPF_PROG(mod_exit, int x, int ret)
{
	chain[1] = (u64)(long)ret;
	chain[2]++;
	return 0;
}
