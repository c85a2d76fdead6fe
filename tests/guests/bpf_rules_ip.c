/* bpf_get_func_ip from a subprogram two calls down: IP_ARG is still set */
#include <ftlab/bpf.h>

u64 ip_seen;

static noinline u64 leaf_ip(u64 *ctx) { return bpf_get_func_ip(ctx); }
static noinline u64 mid_ip(u64 *ctx) { return leaf_ip(ctx) | 0; }

SEC("fentry/ipf")
int ip_prog(u64 *ctx)
{
	ip_seen = mid_ip(ctx);
	return 0;
}
