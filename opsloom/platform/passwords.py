"""Password hashing (Argon2id) and the random secrets behind sessions and tokens.

Argon2 costs a good fraction of a second of CPU and 64 MiB of memory per hash
on purpose, so it never runs on the event loop (which would stall every other
request of the process) but in a few threads of its own: as many as there are
cores, which also bounds the memory a burst of logins takes. On Linux these
threads run at a lower priority, so that a burst of logins does not take the
CPU from the requests already being answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def _yield_to_requests() -> None:
    # Linux keeps a nice value per thread, and Argon2's lane threads inherit it.
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


_threads = ThreadPoolExecutor(
    max_workers=os.cpu_count() or 2, thread_name_prefix="opsloom-password", initializer=_yield_to_requests
)


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_threads, _hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_threads, _verify, password_hash, password)


def _hash(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _hasher.hash(password)  # same cost whether or not the user exists
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Secrets are stored only as their SHA-256: high-entropy, so no slow hash is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()
