"""``auth.htpasswd``: Basic authentication against a bcrypt htpasswd file, as Distribution does.

* Only bcrypt entries (``user:$2y$…``) can log in; ``#`` starts a comment line.
* The file is re-read when it changes (mtime, size, inode or ctime), so adding, changing or
  removing a user takes effect on the next request; successful checks cached in memory are
  dropped at the same moment.
* A missing file is created (mode 0600) with user ``docker`` and a random password, which is
  logged once at WARNING.
* Every uncached check costs exactly one bcrypt comparison, whether or not the user exists,
  so response time does not tell which user names exist. A password longer than 72 bytes
  never matches (Go's bcrypt refuses it; Python's would silently truncate).
* Any authenticated user may do anything: htpasswd has no per-repository rules.
"""

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path

import bcrypt

from dockyard.auth.base import Access, Grant, Unauthorized
from dockyard.auth.challenge import FullAccess, basic_challenge
from dockyard.auth.htpasswd_command import BCRYPT_COST, BCRYPT_MAX_PASSWORD, bcrypt_hash

log = logging.getLogger("dockyard.auth.htpasswd")

DEFAULT_USER = "docker"
CACHE_TTL = 60.0  # seconds a successful check is remembered
CACHE_SIZE = 1024  # (user, password) pairs remembered at most
RACY_WINDOW = 2.0  # a file modified this recently is compared by content, not only by stat
_BCRYPT = re.compile(rb"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_Signature = tuple[int, int, int, int, int]


class HtpasswdError(ValueError):
    """The htpasswd file cannot be parsed."""


def parse_htpasswd(data: bytes) -> dict[bytes, bytes]:
    """``{user: hash}``; the last entry of a user wins, as in Distribution."""
    entries: dict[bytes, bytes] = {}
    for number, raw in enumerate(data.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        user, sep, hashed = line.partition(b":")
        if not sep:
            # The line may hold a password: never echo it.
            raise HtpasswdError(f"line {number}: not a 'user:hash' entry")
        entries[user] = hashed
    return entries


def parse_basic(authorization: str | None) -> tuple[bytes, bytes] | None:
    """``(user, password)`` from ``Basic <base64>``, or None (Go's ``Request.BasicAuth``)."""
    if authorization is None or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].encode("latin-1"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None


def create_htpasswd_file(path: Path) -> str | None:
    """Provision a missing file with user ``docker``; the new password, or None if it existed.

    ``O_EXCL`` makes concurrent workers agree: exactly one creates and logs the password.
    """
    if path.exists():
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    password = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    line = f"{DEFAULT_USER}:{bcrypt_hash(password.encode('ascii'))}\n".encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "wb") as file:
        file.write(line)
    log.warning("htpasswd is missing, provisioning with default user",
                extra={"path": str(path), "user": DEFAULT_USER, "password": password})
    return password


class HtpasswdAccessController:
    """Checks ``Authorization: Basic`` against the file; grants everything to valid users."""

    def __init__(self, realm: str, path: Path | str, *, cache_ttl: float = CACHE_TTL,
                 cache_size: int = CACHE_SIZE, clock: Callable[[], float] = time.monotonic):
        self.realm = realm
        self.path = Path(path)
        self.challenge = basic_challenge(realm)
        self._cache_ttl = cache_ttl
        self._cache_size = cache_size
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[bytes, bytes], float] = OrderedDict()
        self._cache_salt = secrets.token_bytes(16)
        self._generation = 0
        self._entries: dict[bytes, bytes] = {}
        self._data: bytes | None = None
        self._signature: _Signature | None = None
        self._racy = False
        self._dummy_cost = 0
        self._wanted_cost = BCRYPT_COST
        self._dummy_hash = b""
        create_htpasswd_file(self.path)
        # At startup an unreadable or malformed file is an error (it raises);
        # later, the controller refuses every login until the file is fixed.
        stat = self.path.stat()
        data = self.path.read_bytes()
        self._install(parse_htpasswd(data), stat, data)
        self._dummy()  # pay for it now rather than on the first request

    # -- AccessController -----------------------------------------------------------

    def authorize(self, authorization: str | None, accesses: list[Access]) -> Grant:
        credentials = parse_basic(authorization)
        if credentials is None:
            raise Unauthorized(self.challenge, "authentication required", tuple(accesses))
        user, password = credentials
        if not self.check(user, password):
            log.info("htpasswd: authentication failed",
                     extra={"user": user.decode("utf-8", "replace")[:256]})
            raise Unauthorized(self.challenge, "invalid username or password", tuple(accesses))
        return FullAccess(user.decode("utf-8", "replace"))

    def authorize_cached(self, authorization: str | None, accesses: list[Access]
                         ) -> Grant | None:
        """The grant when these credentials were checked recently, else None.

        Lets the caller answer cached logins on the event loop and run the bcrypt
        comparison of an uncached one (about 60 ms) in a worker thread.
        """
        credentials = parse_basic(authorization)
        if credentials is None:
            raise Unauthorized(self.challenge, "authentication required", tuple(accesses))
        user, password = credentials
        key = (user, hashlib.sha256(self._cache_salt + password).digest())
        with self._lock:
            self._refresh()
            expiry = self._cache.get(key)
            if expiry is None or expiry <= self._clock():
                return None
            self._cache.move_to_end(key)
        return FullAccess(user.decode("utf-8", "replace"))

    # -- password checks --------------------------------------------------------------

    def check(self, user: bytes, password: bytes) -> bool:
        """Whether ``password`` is ``user``'s; one bcrypt comparison unless cached."""
        key = (user, hashlib.sha256(self._cache_salt + password).digest())
        with self._lock:
            self._refresh()
            now = self._clock()
            expiry = self._cache.get(key)
            if expiry is not None:
                if expiry > now:
                    self._cache.move_to_end(key)
                    return True
                del self._cache[key]
            hashed = self._entries.get(user)
            dummy = self._dummy()
            generation = self._generation
        if not _bcrypt_matches(password, hashed, dummy):
            return False
        with self._lock:
            if generation == self._generation:  # the file did not change meanwhile
                self._cache[key] = self._clock() + self._cache_ttl
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return True

    def _dummy(self) -> bytes:
        """A hash nobody knows the password of, at the cost most entries use."""
        if self._dummy_cost != self._wanted_cost:
            self._dummy_hash = bcrypt.hashpw(secrets.token_bytes(16),
                                             bcrypt.gensalt(self._wanted_cost))
            self._dummy_cost = self._wanted_cost
        return self._dummy_hash

    # -- reloading ------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Re-read the file if it changed since the last request (called under the lock)."""
        try:
            stat = self.path.stat()
            signature = _signature(stat)
            if signature == self._signature and not self._racy:
                return
            data = self.path.read_bytes()
        except OSError as error:
            if self._signature is not None or self._data is not None:
                log.error("htpasswd file %s cannot be read (%s): refusing every login until "
                          "it is back", self.path, error.strerror or error)
                self._install({}, None, None)
            return
        if data == self._data:
            self._signature, self._racy = signature, _is_racy(stat)
            return
        try:
            entries = parse_htpasswd(data)
        except HtpasswdError as error:
            log.error("htpasswd file %s is invalid (%s): refusing every login until it is "
                      "fixed", self.path, error)
            entries = {}
        self._install(entries, stat, data)
        log.info("htpasswd file %s reloaded: %d users", self.path, len(entries))

    def _install(self, entries: dict[bytes, bytes], stat: os.stat_result | None,
                 data: bytes | None) -> None:
        self._entries = entries
        self._data = data
        self._signature = _signature(stat) if stat is not None else None
        self._racy = stat is not None and _is_racy(stat)
        self._cache.clear()
        self._generation += 1
        costs = Counter(int(m.group(1)) for h in entries.values() if (m := _BCRYPT.fullmatch(h)))
        self._wanted_cost = min(max(costs.most_common(1)[0][0], 4), 16) if costs else BCRYPT_COST
        unusable = sorted(u.decode("utf-8", "replace") for u, h in entries.items()
                          if not _BCRYPT.fullmatch(h))
        if unusable:
            log.warning("htpasswd entries that are not bcrypt hashes cannot log in: %s",
                        ", ".join(unusable[:20]))


def _bcrypt_matches(password: bytes, hashed: bytes | None, dummy: bytes) -> bool:
    """One bcrypt comparison in every case: unknown user, unusable hash, overlong password."""
    usable = hashed is not None and _BCRYPT.fullmatch(hashed) is not None
    target = hashed if usable and hashed is not None else dummy
    try:
        matched = bcrypt.checkpw(password[:BCRYPT_MAX_PASSWORD], target)
    except ValueError:
        matched = False
    return matched and usable and len(password) <= BCRYPT_MAX_PASSWORD


def _signature(stat: os.stat_result) -> _Signature:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_dev, stat.st_ctime_ns)


def _is_racy(stat: os.stat_result) -> bool:
    """Written so recently that another write may follow with an identical stat."""
    return time.time() - stat.st_mtime < RACY_WINDOW
