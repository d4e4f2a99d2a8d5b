"""rerank on a Ray cluster: whole files (``rerank select --ray``) and Ray Data pipelines.

Ray is an optional extra (``pip install -e '.[ray]'``): importing this package does not
import it; the functions do, and say how to install it when it is missing.

- :func:`run_select_on_ray`: a file selected on the cluster, rows written by the driver in
  input order to the same ``--out`` and ``--trace``, with the same ``--resume``.
- :func:`run_report_on_ray`: ``rerank report`` with each item's record made on the
  cluster; the same metrics and files.
- :func:`select_dataset` and :class:`SelectBatch`: selection as a ``map_batches`` stage
  of a ``ray.data.Dataset``.

docs/scale.md has the design and its limits.
"""

from rerank.ray.actors import WorkerLost
from rerank.ray.data import SelectBatch, select_dataset
from rerank.ray.judging import JudgeRecipe, NodeSandboxError
from rerank.ray.report import run_report_on_ray
from rerank.ray.select import run_select_on_ray

__all__ = [
    "JudgeRecipe",
    "NodeSandboxError",
    "SelectBatch",
    "WorkerLost",
    "run_report_on_ray",
    "run_select_on_ray",
    "select_dataset",
]
