"""Benchmarks over ftlab's machine: reproductions of the kernel's own ftrace measurements."""
