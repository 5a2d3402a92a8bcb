"""Renamed names keep working for one release: they raise a ``DeprecationWarning`` naming the new one.

Two tools, both explicit (every old name is written out where it used to live, so grep, ``dir()``
and editors see it):

- :func:`renamed_function` wraps the new function under its old name.
- :func:`renamed_attributes` builds a module ``__getattr__`` that serves a fixed table of old
  names; it is the only module ``__getattr__`` the layering test allows besides the package's
  lazy top-level API.
"""

import functools
import warnings
from importlib import import_module


def warn_renamed(old, new, stacklevel=3):
    """Warn that ``old`` is deprecated in favour of ``new`` (both given as they are spelled)."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new}",
                  DeprecationWarning, stacklevel=stacklevel)


def renamed_function(new_function, old, new):
    """``new_function`` under its old name ``old``: same call, plus a DeprecationWarning."""

    @functools.wraps(new_function)
    def old_function(*args, **kwargs):
        warn_renamed(old, new)
        return new_function(*args, **kwargs)

    old_function.__doc__ = f"Deprecated alias of {new}.\n\n{new_function.__doc__ or ''}"
    return old_function


def renamed_attributes(module_name, renames):
    """A module ``__getattr__`` serving ``renames`` = {old name: "new.module:new_name"}.

    Accessing an old name imports the new home, warns, and returns the new object.
    """

    def __getattr__(name):
        if name not in renames:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        new_module, new_name = renames[name].split(":")
        warn_renamed(f"{module_name}.{name}", f"{new_module}.{new_name}")
        return getattr(import_module(new_module), new_name)

    return __getattr__
