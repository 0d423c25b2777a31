"""Authoring: documents, semantic checks, definition store, publishing, packages."""
