/* two mass attachments overlapping: sh1/sh2 share one trampoline, sh3/sh4 another */
#include <ftlab/bpf.h>

SEC("fentry.multi/sh[0-9]")
int sh_in(u64 *ctx)
{
	bpf_printk("in %lld", ctx[0]);
	return 0;
}

SEC("fexit.multi/sh[34]")
int sh_out(u64 *ctx)
{
	bpf_printk("out %lld", ctx[1]);
	return 0;
}
