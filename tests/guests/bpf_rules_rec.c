/* a program that calls its own traced function: the nested run is skipped and counted */
#include <ftlab/bpf.h>

s64 rec_target(s64 x);
u64 rec_runs;

SEC("fentry/rec_target")
int rec_prog(u64 *ctx)
{
	rec_runs++;
	rec_target(ctx[0] + 1000);
	return 0;
}
