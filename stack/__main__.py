"""`python -m stack`: the dev server, its Web UI, the worker and the bot (see stack/launcher.py)."""

from stack.launcher import main
from stack.process import exit_now

exit_now(main())
