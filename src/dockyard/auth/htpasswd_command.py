"""``dockyard htpasswd``: what ``htpasswd -Bbn USER PASSWORD`` prints, with no Apache tools."""

import bcrypt

BCRYPT_COST = 10  # Distribution's (Go's bcrypt.DefaultCost)
BCRYPT_MAX_PASSWORD = 72  # bcrypt ignores anything longer; Go refuses it


def bcrypt_hash(password: bytes, cost: int = BCRYPT_COST) -> str:
    """A ``$2y$`` bcrypt hash, as Apache's htpasswd writes it (``$2y$`` is ``$2b$``)."""
    if len(password) > BCRYPT_MAX_PASSWORD:
        raise ValueError(f"password is {len(password)} bytes; bcrypt allows at most "
                         f"{BCRYPT_MAX_PASSWORD}")
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=cost)).decode("ascii")
    return "$2y$" + hashed[4:]


def htpasswd_entry(user: str, password: str) -> str:
    """One ``user:bcrypt-hash`` line."""
    if not user or ":" in user or user != user.strip() or user.startswith("#") \
            or any(c in user for c in "\r\n"):
        raise ValueError("user name must be non-empty, must not start with '#' or contain ':', "
                         "line breaks or surrounding spaces")
    return f"{user}:{bcrypt_hash(password.encode('utf-8'))}"
