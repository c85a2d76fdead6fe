/* BPF exceptions: a boundary program calls a function that throws; the callee-saved
 * registers of the code around the traced call must be intact afterwards. */
#include <ftlab/bpf.h>

u64 check_callee_saved(u64 (*fn)(u64), u64 arg);  /* callee_saved_<arch>.S */

u64 cb_cookie;
u64 after_throw;
u64 prog_result;

noinline u64 traced(u64 x)
{
	return x * 3;
}

noinline void deep_throw(u64 c)
{
	if (c)
		bpf_throw(c);
}

int throw_cb(u64 cookie)
{
	cb_cookie = cookie;
	return 5;
}

SEC("fentry/traced") __exception_cb(throw_cb)
int BPF_PROG(boundary, u64 x)
{
	/* many values live across the call: the compiler keeps them in callee-saved registers,
	 * which the throw leaves as the program had them */
	u64 a = x * 3, b = x * 5, c = x * 7, d = x * 11, e = x * 13, f = x * 17;
	u64 g = x * 19, h = x * 23, i = x * 29, j = x * 31, k = x * 37;

	deep_throw(x + 1000);
	after_throw = 1;
	return (int)(a + b + c + d + e + f + g + h + i + j + k);
}

u64 check_entry(u64 x)
{
	return check_callee_saved(traced, x);
}

u64 plain_entry(u64 x)
{
	return traced(x);
}
