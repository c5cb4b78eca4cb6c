"""The report's output formats: the one list (the CLI, the API and pipeline files use it)."""

from __future__ import annotations

#: html (one self-contained page), md (for a pull request), json, csv, and the plots as png / svg
FORMATS: tuple[str, ...] = ("html", "md", "json", "csv", "png", "svg")
