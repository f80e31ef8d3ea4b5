"""Where the bundled templates live: inside the installed package (selfeval_xl.templates,
mapped from the repository's templates/ folder by pyproject), or in the source tree."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def template_dir() -> Path:
    try:
        return Path(str(resources.files("selfeval_xl.templates")))
    except ModuleNotFoundError:  # running from a source checkout (python -m pytest puts it first on sys.path)
        return Path(__file__).resolve().parent.parent / "templates"


def template_file(name: str) -> Path:
    return template_dir() / name
