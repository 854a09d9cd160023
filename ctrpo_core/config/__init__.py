"""Settings: the schema (``TrainConfig``, defaults per task and algorithm), their rules, --set and TOML.

``ctrpo_core.config`` re-exports the schema, so ``from ctrpo_core.config import TrainConfig`` keeps working.
"""

from .schema import *  # noqa: F401,F403
