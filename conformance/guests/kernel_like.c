/*
 * A guest whose functions carry the names the kernel's ftrace selftests use (schedule,
 * kernel_clone, the VFS read path, locks, RCU, syscalls), for conformance/ftracetest.sh.
 * The bodies are small stand-ins; one call of kernel_loop() is one "tick" of work.
 */
#include <ftlab/runtime.h>

static volatile u64 lock_word;
static volatile u64 rcu_nesting;
static volatile u64 jiffies;
static volatile u64 next_pid = 1000;
static char page[64];

noinline void _raw_spin_lock(volatile u64 *lock) { *lock += 1; }
noinline void _raw_spin_unlock(volatile u64 *lock) { *lock -= 1; }
noinline int _raw_spin_trylock(volatile u64 *lock) { if (*lock) return 0; *lock = 1; return 1; }
noinline void mutex_lock(volatile u64 *lock) { _raw_spin_lock(lock); }
noinline void mutex_unlock(volatile u64 *lock) { _raw_spin_unlock(lock); }
noinline int mutex_trylock(volatile u64 *lock) { return _raw_spin_trylock(lock); }
noinline void console_lock(void) { mutex_lock(&lock_word); }
noinline void console_unlock(void) { mutex_unlock(&lock_word); }
noinline void rcu_read_lock(void) { rcu_nesting++; }
noinline void rcu_read_unlock(void) { rcu_nesting--; }
noinline void rcu_note_context_switch(void) { rcu_nesting = rcu_nesting; }

noinline void update_curr(void) { jiffies += 0; }
noinline void sched_tick(void) { jiffies++; update_curr(); }
noinline void pick_next_task_fair(void) { update_curr(); }

noinline void __schedule(void)
{
	_raw_spin_lock(&lock_word);
	rcu_note_context_switch();
	pick_next_task_fair();
	_raw_spin_unlock(&lock_word);
}

noinline void schedule(void)
{
	__schedule();
	cond_resched();
}

noinline long copy_process(void) { return (long)next_pid++; }
noinline long kernel_clone(void) { return copy_process(); }
noinline long sys_clone(void) { return kernel_clone(); }

noinline long do_execveat_common(void) { return 0; }
noinline long sys_execve(void) { return do_execveat_common(); }

noinline long copy_to_user(char *dst, u64 n) { for (u64 i = 0; i < n && i < sizeof(page); i++) dst[i] = (char)i; return 0; }
noinline long seq_read_iter(u64 n) { return copy_to_user(page, n) ? -14 : (long)n; }
noinline long vfs_read(u64 n) { rcu_read_lock(); long r = seq_read_iter(n); rcu_read_unlock(); return r; }
noinline long ksys_read(u64 n) { return vfs_read(n); }
noinline long sys_read(u64 n) { return ksys_read(n); }

noinline long sys_getpid(void) { return 100 + smp_processor_id(); }

noinline long sys_write(u64 n)
{
	console_lock();
	if (mutex_trylock(&lock_word))
		mutex_unlock(&lock_word);
	console_unlock();
	return (long)n;
}

long kernel_loop(void)
{
	long r = sys_read(16);
	r += sys_getpid();
	r += sys_write(8);
	sched_tick();
	if ((jiffies & 7) == 0) {
		r += sys_clone();
		r += sys_execve();
	}
	schedule();
	return r;
}
