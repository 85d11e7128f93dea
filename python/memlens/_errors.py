"""The one exception type of the Python API: its message is one line that says what to do."""


class MemlensError(Exception):
    """A memlens operation could not be done; str(error) says why and what to do."""
