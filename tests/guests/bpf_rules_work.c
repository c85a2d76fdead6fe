/* Workloads for the trampoline rules (one trampoline per function, func ip, recursion,
 * DW_CC_nocall, shared names). Plain C: tests/reference.py builds it natively (or under
 * qemu-user) as the oracle; the BPF programs are in bpf_rules_*.c. */
#define noinline __attribute__((noinline))

typedef long long s64;

noinline s64 ipf(s64 x) { return x ^ 0x55; }
s64 ip_entry(s64 x) { return ipf(x) * 3 + ipf(x + 1); }

s64 rec_calls;
noinline s64 rec_target(s64 x) { rec_calls++; return x + 1; }
s64 rec_entry(s64 x) { s64 r = rec_target(x) * 100 + rec_target(x + 1); return r * 1000 + rec_calls; }

/* an unused argument: clang drops it and marks the function DW_CC_nocall */
static noinline s64 nc_drop(s64 unused, s64 x) { return x * 3; }
s64 nc_entry(s64 x) { return nc_drop(5, x) + 1; }

noinline s64 sh1(s64 x) { return x + 1; }
noinline s64 sh2(s64 x) { return x * 2; }
noinline s64 sh3(s64 x) { return x - 3; }
noinline s64 sh4(s64 x) { return x << 4; }
s64 sh_entry(s64 x) { return sh1(x) + sh2(x) * 10 + sh3(x) * 100 + sh4(x) * 1000; }

noinline void vfn(s64 x) { rec_calls += x; }
noinline s64 two(s64 x, s64 y) { return x * y; }
s64 misc_entry(s64 x) { vfn(x); return two(x, 3); }
