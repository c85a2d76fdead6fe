/* Machine calls a broken guest could make: each must end as a fault report of its task. */
#include <ftlab/runtime.h>

long irq_return_without_irq(void) { return ftlab_mcall(FTLAB_MCALL_IRQ_RETURN, 0, 0, 0); }
long puts_wild_pointer(void) { return ftlab_mcall(FTLAB_MCALL_PUTS, 0x10, 1000, 0); }
long bug_huge_length(void) { return ftlab_mcall(FTLAB_MCALL_BUG, 0x1, 0x7fffffffffffffff, 0); }
long unknown_call(void) { return ftlab_mcall(99, 0, 0, 0); }
