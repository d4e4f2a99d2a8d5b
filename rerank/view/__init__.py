"""``rerank view``: one self-contained HTML page to read a run's choices and why they were made.

:func:`build_view` reads and joins the selection, trace and input rows of a run;
:func:`render_page` turns them into the page. The command is
:data:`rerank.view.command.view`.
"""

from rerank.view.build import ViewData, build_view
from rerank.view.page import render_page

__all__ = ["ViewData", "build_view", "render_page"]
