/* fentry and fexit on every al_* function: the ctx slots and the return value, by the
 * function's ip (set on mass-attach and single trampolines alike when a program asks). */
#include <ftlab/bpf.h>

long al_i_reg(), al_w_reg(), al_s_reg(), al_i_stk(), al_s_stk(), al_w_stk(), al_i_split(),
	al_i_last();

u64 seen[8][16];
u64 seen_n[8];
u64 seen_ret[8];

static int index_of(u64 ip)
{
	u64 funcs[8] = { (u64)al_i_reg, (u64)al_w_reg, (u64)al_s_reg, (u64)al_i_stk,
			 (u64)al_s_stk, (u64)al_w_stk, (u64)al_i_split, (u64)al_i_last };

	for (int i = 0; i < 8; i++)
		if (funcs[i] == ip)
			return i;
	return 0;
}

SEC("fentry.multi/al_[iws]_*")
int al_in(u64 *ctx)
{
	int i = index_of(bpf_get_func_ip(ctx));
	u64 n = bpf_get_func_arg_cnt(ctx);

	seen_n[i] = n;
	for (u64 j = 0; j < n && j < 16; j++)
		seen[i][j] = ctx[j];
	return 0;
}

SEC("fexit.multi/al_[iws]_*")
int al_out(u64 *ctx)
{
	u64 r;

	bpf_get_func_ret(ctx, &r);
	seen_ret[index_of(bpf_get_func_ip(ctx))] = r;
	return 0;
}
