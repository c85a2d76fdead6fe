"""ftlab: Linux dynamic ftrace and BPF trampolines on real machine code, on emulated harts."""

__version__ = "0.1.0"
