/*
 * ftlab's bundled example: a call chain shaped like the one in seed 000
 * (riscv, bpf: adapt the BPF trampoline to the optimized riscv ftrace), where
 * `cat /proc/meminfo` through sendfile reaches meminfo_proc_show().
 * The function names are the kernel's; the bodies are small stand-ins.
 */
#include <ftlab/runtime.h>

struct seq_file {
	char buf[256];
	u64 count;
};

static struct seq_file meminfo_seq;
u64 totalram_pages = 2048;
u64 freeram_pages = 1337;

noinline void do_empty(void)
{
	dump_stack(); /* the stack seed 000 prints from its BPF program */
}

noinline int meminfo_proc_show(struct seq_file *m, void *v)
{
	m->count += totalram_pages - freeram_pages;
	do_empty();
	return 0;
}

noinline long seq_read_iter(struct seq_file *m, u64 len)
{
	meminfo_proc_show(m, 0);
	return (long)(len < m->count ? len : m->count);
}

noinline long proc_reg_read_iter(u64 len)
{
	return seq_read_iter(&meminfo_seq, len);
}

noinline long copy_splice_read(u64 len)
{
	return proc_reg_read_iter(len);
}

noinline long vfs_splice_read(u64 len)
{
	return copy_splice_read(len);
}

noinline long splice_direct_to_actor(u64 len)
{
	long ret = vfs_splice_read(len);
	return ret < 0 ? ret : ret;
}

noinline long do_splice_direct(u64 len)
{
	return splice_direct_to_actor(len);
}

noinline long do_sendfile(int out_fd, int in_fd, u64 count)
{
	if (out_fd < 0 || in_fd < 0)
		return -9; /* -EBADF */
	meminfo_seq.count = 0;
	return do_splice_direct(count);
}

long sys_sendfile64(int out_fd, int in_fd, u64 count)
{
	return do_sendfile(out_fd, in_fd, count);
}
