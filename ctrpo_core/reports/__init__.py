"""Report notebooks: their parameters (parameters.py), report folders (folders.py), papermill (papermill.py).

``ctrpo_core.reports`` re-exports all three, so ``reports.launch_report(...)`` reads as it always did.
"""

from .folders import *  # noqa: F401,F403
from .folders import KERNEL, LOG, PARAMS, REPORTS, RESULTS, STATUS  # noqa: F401
from .papermill import *  # noqa: F401,F403
from .papermill import _kernel_manager_class  # noqa: F401  (the tests reach it)
from .parameters import *  # noqa: F401,F403
from .parameters import NOTEBOOKS_DIR, RESERVED  # noqa: F401
