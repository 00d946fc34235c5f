"""The one base class for problems a person can fix, so that everything else stays a bug.

``lensfinder`` reports a :class:`UserError` as one line and exit status 1; any other
exception keeps its traceback (``cli.main``).  The library's input errors derive from it:
``StoreError`` (and ``IdentityError``), ``IngestError``, ``PanoptesError``, ``LockTimeout``,
``FetchUnavailable``, ``LenscatMissing``, ``SettingsError``, ``CliError`` and
:class:`InvalidInput` for a value a caller passed that is out of range.
"""

from __future__ import annotations

__all__ = ["UserError", "InvalidInput"]


class UserError(Exception):
    """A problem the person can fix (their input, a missing file, a busy store, a service offline).

    The message is written for that person: one line that says what and where.
    """


class InvalidInput(UserError, ValueError):
    """A value passed in (an option, a parameter, a table) that the library refuses; the message names it."""
