"""x86_64 support."""
