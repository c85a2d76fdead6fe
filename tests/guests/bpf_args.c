/* Functions with 0 to 12 arguments of mixed widths and signedness, and BPF programs on them. */
#include <ftlab/bpf.h>

struct pair16 { long a; long b; };

u64 seen[16];
u64 seen_ret;
u64 seen_cnt;
u64 seen_ip;
u64 fexit_calls;

noinline int f0(void) { return 42; }
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
