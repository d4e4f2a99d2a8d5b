"""rerank: pick the best of N LLM responses, and show why."""

from importlib.metadata import version as _distribution_version

from rerank.batch import aselect_many, select_many
from rerank.errors import ConfigError, InputError, JudgeError, RerankError
from rerank.items import Candidate, Item, Labels, Task
from rerank.judges import Score, Verdict, create_judge, from_callable
from rerank.readers import read_items
from rerank.selector import aselect, select

#: The installed distribution's version (pyproject.toml's, the one place it is written).
__version__ = _distribution_version("rerank")

__all__ = [
    "Candidate",
    "ConfigError",
    "InputError",
    "Item",
    "JudgeError",
    "Labels",
    "RerankError",
    "Score",
    "Task",
    "Verdict",
    "__version__",
    "aselect",
    "aselect_many",
    "create_judge",
    "from_callable",
    "read_items",
    "select",
    "select_many",
]
