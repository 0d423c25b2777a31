"""Opsloom: a metadata-driven no-code platform for business operations."""

__version__ = "0.1.0"
