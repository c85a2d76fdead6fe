/* x86_32 regparm(3) workload: functions whose 32- and 64-bit arguments land in eax, edx, ecx
 * and on the stack in different ways, a mass-attach program over them, and a check of the
 * values each program sees (ftlab's tests compare them with the C arguments). */
#include <ftlab/runtime.h>
#include <ftlab/bpf.h>

typedef long long s64_t;

noinline int rp_iii(int a, int b, int c) { return a + 2 * b + 3 * c; }
noinline int rp_ii(int a, int b) { return a - b; }
noinline s64_t rp_qi(s64_t a, int b) { return a * b; }
noinline s64_t rp_iq(int a, s64_t b) { return b - a; }
noinline s64_t rp_iqi(int a, s64_t b, int c) { return a + b + c; }
noinline s64_t rp_qq(s64_t a, s64_t b) { return a ^ b; }
noinline int rp_iiiii(int a, int b, int c, int d, int e) { return a + b + c + d + e; }
noinline s64_t rp_iiq(int a, int b, s64_t c) { return a + b + c; }

s64_t rp_work(int n)
{
	s64_t s = 0;

	for (int i = 0; i < n; i++) {
		s += rp_iii(i, -2, 3) + rp_ii(i, 9) + rp_qi(0x100000000LL + i, 3);
		s += rp_iq(i, 0x200000007LL) + rp_iqi(-1, 0x300000000LL, i);
		s += rp_qq(0x123456789LL, -i) + rp_iiiii(1, 2, 3, 4, i) + rp_iiq(i, 5, -0x400000000LL);
	}
	return s;
}

/* every argument each call's fentry program sees, in call order */
u64 seen[64][6];
u64 nseen;

SEC("fentry.multi/rp_[iq]*")
int BPF_PROG(rp_args)
{
	u64 n = bpf_get_func_arg_cnt(ctx), i = nseen++;

	if (i >= 64)
		return 0;
	seen[i][0] = bpf_get_func_ip(ctx);
	seen[i][1] = n;
	for (u64 k = 0; k < n && k < 4; k++)
		bpf_get_func_arg(ctx, k, &seen[i][2 + k]);
	return 0;
}

/* return values: an int result with edx undefined reads as its zero-extended 32 bits; an
 * fmod_ret program's int result replaces a 64-bit one whole */
u64 ret_seen[2];

SEC("fexit/rp_ii")
int BPF_PROG(rp_ii_exit, int a, int b, int ret)
{
	bpf_get_func_ret(ctx, &ret_seen[0]);
	return 0;
}

SEC("fmod_ret/rp_qi")
int BPF_PROG(rp_qi_mod, s64_t a, int b)
{
	return b == 3 ? -7 : 0;
}

SEC("fexit/rp_qi")
int BPF_PROG(rp_qi_exit, s64_t a, int b, s64_t ret)
{
	ret_seen[1] = ret;
	return 0;
}
