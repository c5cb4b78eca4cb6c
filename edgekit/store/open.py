"""One way to open the results store, for every stage, the CLI and the API alike.

``open_store(x)``:

* a :class:`Store` → itself (the caller keeps ownership);
* ``None`` → the default store: ``$EDGEKIT_STORE``, else ``.edgekit/results.sqlite`` in the
  current folder — the same meaning in every stage and command;
* :data:`NO_STORE` (or ``False``) → ``None``: nothing is stored;
* a path or ``sqlite:///path`` → the SQLite store in that file;
* ``postgresql://…`` (or ``postgres://…``) → the PostgreSQL store at that URL.

Backends are a registry (:data:`BACKENDS`): a new one is one module plus one entry.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Final, Optional, Union

from ..errors import StoreError
from .base import Store

DEFAULT_PATH = Path(".edgekit") / "results.sqlite"


class _NoStore:
    """The explicit "store nothing" value (``False`` means the same)."""

    def __repr__(self) -> str:
        return "NO_STORE"

    def __bool__(self) -> bool:
        return False


NO_STORE: Final = _NoStore()

StoreArg = Union[Store, str, os.PathLike, None, bool, _NoStore]

#: URL scheme → "module:class" of the backend (the only list of backend names)
BACKENDS: dict[str, str] = {
    "sqlite": "edgekit.store.sqlite:SqliteStore",
    "postgresql": "edgekit.store.postgres:PostgresStore",
}
_ALIASES = {"postgres": "postgresql"}


def default_store_location() -> str:
    """``$EDGEKIT_STORE`` or ``.edgekit/results.sqlite`` (relative to the current folder)."""
    return os.environ.get("EDGEKIT_STORE") or str(DEFAULT_PATH)


def scheme_of(location: str) -> str:
    """The backend a location names: ``postgresql``, or ``sqlite`` for URLs and plain paths."""
    head, sep, _ = location.partition("://")
    if not sep or len(head) < 2:  # a plain path (or a Windows drive letter)
        return "sqlite"
    return _ALIASES.get(head.lower(), head.lower())


def _backend(scheme: str) -> type[Store]:
    target = BACKENDS.get(scheme)
    if target is None:
        raise StoreError(f"store URL scheme '{scheme}://' is not known",
                         hint=f"use a file path, sqlite:///path, or one of: "
                              f"{', '.join(s + '://' for s in sorted(BACKENDS))}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def open_store(store: StoreArg = None, must_exist: bool = False) -> Optional[Store]:
    """The store ``store`` names (see the module docstring); None for :data:`NO_STORE`.

    Args:
        store: a Store, a path, a URL, None (the default store) or NO_STORE / False.
        must_exist: refuse a SQLite file that does not exist yet (for readers such as
            ``edgekit report``) instead of creating it.
    """
    if store is False or isinstance(store, _NoStore):
        return None
    if isinstance(store, Store):
        return store
    if store is True:
        raise StoreError("store=True is ambiguous", hint="pass None for the default store, or a path or URL")
    location = os.fspath(store) if store is not None else default_store_location()
    if not isinstance(location, str) or not location:
        raise StoreError(f"store {store!r} is not a path or a URL", hint="pass a file path or postgresql://…")
    scheme = scheme_of(location)
    if scheme == "sqlite":
        # sqlite:///relative/path, sqlite:////absolute/path (as SQLAlchemy writes them)
        path = Path(location[len("sqlite:///"):] if location.startswith("sqlite:///") else location)
        if must_exist and not path.is_file():
            raise StoreError(f"store '{path}' does not exist",
                             hint="pass --store PATH of a run (e.g. edgekit-run/results.sqlite), or run "
                                  "`edgekit convert` / `edgekit deploy` first")
        return _backend("sqlite")(path)  # type: ignore[call-arg]
    return _backend(scheme)(location)  # type: ignore[call-arg]


def owned(store: StoreArg, opened: Optional[Store]) -> bool:
    """Whether ``opened`` was opened by :func:`open_store` for ``store`` (so the caller closes it)."""
    return opened is not None and opened is not store
