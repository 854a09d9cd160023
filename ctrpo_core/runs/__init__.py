"""One run: its directory (store), who owns it (ownership), its life (lifecycle), the loop (trainer).

``ctrpo_core.runs`` re-exports the run store, so ``from ctrpo_core.runs import RunDir`` keeps working.
"""

from .store import *  # noqa: F401,F403
