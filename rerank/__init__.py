"""rerank: pick the best of N LLM responses, and show why."""

__version__ = "0.1.0"

from rerank.batch import aselect_many, select_many  # noqa: E402
from rerank.errors import ConfigError, InputError, JudgeError, RerankError  # noqa: E402
from rerank.items import Candidate, Item, Labels, Task  # noqa: E402
from rerank.judges import Score, Verdict, create_judge, from_callable  # noqa: E402
from rerank.readers import read_items  # noqa: E402
from rerank.selector import aselect, select  # noqa: E402

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
