"""Kernel: settings, database, errors, HTTP plumbing. Imports neither designer nor runtime."""
