"""Agent PINs kept only as salted scrypt hashes, in the format console passwords use.

A PIN is 4 to 8 digits, so its hash is slow on purpose (werkzeug's scrypt, N=2**15, r=8, p=1,
a 16-character salt per PIN): the same hasher as `queues/users.py`. A hash read from a roster
file is accepted only within bounded costs, so a crafted file cannot make a check exhaust memory.
"""

from __future__ import annotations

import hmac
import re
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

PIN_METHOD = "scrypt"
PLAIN_PIN = re.compile(r"^\d{4,8}$")
_HASH = re.compile(r"^scrypt:(\d+):(\d+):(\d+)\$[A-Za-z0-9]{8,64}\$[0-9a-f]{128}$")
# The costs a stored hash may name: scrypt needs about 128 * N * r bytes to check one.
_MIN_N, _MAX_N = 2**14, 2**16
_MAX_R, _MAX_P = 16, 4
_MAX_MEMORY = 128 * 2**16 * 8


def hash_pin(pin: str, *, method: str = PIN_METHOD) -> str:
    """Hash a PIN with a fresh salt; raise ValueError for anything but 4 to 8 digits."""
    if not PLAIN_PIN.match(pin):
        raise ValueError("a PIN is 4 to 8 digits")
    return generate_password_hash(pin, method=method)


def is_pin_hash(value: str) -> bool:
    """Tell whether a value is a PIN hash this hotline writes and may check at bounded cost."""
    found = _HASH.match(value)
    if found is None:
        return False
    n, r, p = (int(part) for part in found.groups())
    return (
        _MIN_N <= n <= _MAX_N
        and n & (n - 1) == 0
        and 1 <= r <= _MAX_R
        and 1 <= p <= _MAX_P
        and 128 * n * r <= _MAX_MEMORY
    )


def is_plain_pin(value: str) -> bool:
    """Tell whether a stored value is a PIN in plain digits, as versions before hashing kept."""
    return bool(PLAIN_PIN.match(value))


def pin_matches(stored: str | None, pin: str) -> bool:
    """Check a keyed PIN against a stored hash or legacy plain PIN, with the same slow work."""
    if stored and is_pin_hash(stored):
        return bool(pin) and check_password_hash(stored, pin)
    # No hash to check (no PIN, or a plain one): the same work, so timing tells nothing.
    check_password_hash(_dummy_hash(), pin)
    if not stored or not pin or not is_plain_pin(stored):
        return False
    return hmac.compare_digest(stored.encode(), pin.encode())


@cache
def _dummy_hash() -> str:
    """A real hash to check against when there is none, made once per process on first use."""
    return generate_password_hash("00000000", method=PIN_METHOD)
