"""srcbuild: build software from source into a prefix, reproducibly."""

__version__ = "0.1.0"
