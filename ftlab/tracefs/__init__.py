"""A tracefs over an ftlab machine: the kernel's /sys/kernel/tracing files, their semantics and
error codes, in pure Python (`model.Tracefs`), driven by a machine that keeps re-invoking an
entry on its harts (`lab.Lab`, `lab.Driver`), mountable through FUSE (`fuse`, `command`)."""

from ftlab.tracefs.lab import Driver, Lab
from ftlab.tracefs.model import Tracefs

__all__ = ["Driver", "Lab", "Tracefs"]
