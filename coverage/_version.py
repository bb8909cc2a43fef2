"""The version of the package (one place; pyproject.toml repeats it)."""

__version__ = "0.1.0"
