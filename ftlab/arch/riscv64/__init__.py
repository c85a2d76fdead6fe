"""riscv64 support."""
