"""The generic ftrace core (kernel/trace/ftrace.c) and its tracers."""
