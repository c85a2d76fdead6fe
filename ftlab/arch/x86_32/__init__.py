"""x86-32 (i386): the 32-bit kernel build, regparm(3), the int3 patching protocol."""
