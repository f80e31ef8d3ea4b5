"""Where the bundled templates live: inside the installed package (selfeval_xl.templates,
mapped from the repository's templates/ folder by pyproject), or in the source tree.

templates/ has no __init__.py (it is a folder staff edit, not code), so it is a namespace
package: ``importlib.resources.files`` returns a MultiplexedPath whose ``str()`` is not a
path. The import spec's search location is.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path


def template_dir() -> Path:
    try:
        spec = importlib.util.find_spec("selfeval_xl.templates")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    # A source checkout run without installing (python -m pytest puts it first on sys.path).
    return Path(__file__).resolve().parent.parent / "templates"


def template_file(name: str) -> Path:
    return template_dir() / name
