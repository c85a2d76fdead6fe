"""Build guest images with the kernel's code-generation choices and load them from ELF."""
