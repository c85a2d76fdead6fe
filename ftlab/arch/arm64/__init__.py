"""arm64 support."""
