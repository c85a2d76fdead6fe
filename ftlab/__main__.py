import sys

from ftlab import interrupts

interrupts.install()  # before the heavy imports: a Ctrl-C there is no traceback either
try:
    from ftlab.cli import main
except interrupts.Interrupted as sig:
    sys.exit(sig.exit_code)

sys.exit(main())
