/* trace_printk and stack-trace options on real code. */
#include <ftlab/trace.h>

noinline int inner(int x, const char *name)
{
	trace_printk("inner x=%d hex=%08x name=%s neg=%ld pct=%%\n", x, x * 255, name, -5L);
	return x + 1;
}

noinline int outer(int x)
{
	return inner(x, "ftlab") * 2;
}

int printk_entry(int x)
{
	return outer(x) + outer(x + 1);
}

noinline int spin_leaf(int x) { return x ^ 1; }

int many_calls(int n)
{
	int s = 0;

	for (int i = 0; i < n; i++)
		s += spin_leaf(i);
	return s;
}
