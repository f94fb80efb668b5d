"""The one exception type lexiclass raises for bad input, so the CLI can print it cleanly."""


class LexiclassError(Exception):
    """Bad input or state a user can fix: the message names the file, line, field or value."""


class DataError(LexiclassError):
    """A dataset file or folder cannot be used as given."""


class ConfigError(LexiclassError):
    """A configuration value or key is invalid."""


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of ``exc``'s message (its type's name if empty), cut to ``limit`` characters."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit] if limit else line
