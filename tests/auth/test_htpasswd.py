"""htpasswd: parsing, Basic credentials, reloads, provisioning, timing safety, the cache."""

from __future__ import annotations

import base64
import logging
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest

from dockyard.auth import htpasswd as htpasswd_module
from dockyard.auth.base import Access, Unauthorized
from dockyard.auth.htpasswd import (
    HtpasswdAccessController,
    HtpasswdError,
    parse_basic,
    parse_htpasswd,
)
from dockyard.auth.htpasswd_command import htpasswd_entry

PUSH = Access("repository", "team/app", ("pull", "push"))


def basic(user: str | bytes, password: str | bytes) -> str:
    user = user.encode() if isinstance(user, str) else user
    password = password.encode() if isinstance(password, str) else password
    return "Basic " + base64.b64encode(user + b":" + password).decode()


def cheap_entry(user: str, password: bytes) -> str:
    """An entry at bcrypt's minimum cost, to keep the unit tests fast."""
    return f"{user}:{bcrypt.hashpw(password, bcrypt.gensalt(4)).decode()}"


@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every bcrypt.checkpw call's hash argument, in order (the calls still happen)."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    path.write_text("# users\n\n" + cheap_entry("alice", b"alice-pw") + "\n"
                    + cheap_entry("bob", b"bob-pw") + "\n")
    return path


def test_parse_skips_comments_blank_lines_and_whitespace():
    entries = parse_htpasswd(b"# comment\n\n   \n  alice:$2y$hash  \r\n#bob:x\nbob:one\nbob:two\n"
                             b"carol:\n")
    assert entries == {b"alice": b"$2y$hash", b"bob": b"two", b"carol": b""}


def test_parse_rejects_a_line_without_colon_and_never_echoes_it():
    with pytest.raises(HtpasswdError) as error:
        parse_htpasswd(b"alice:$2y$x\nsecret-password-line\n")
    assert "line 2" in str(error.value)
    assert "secret-password-line" not in str(error.value)


@pytest.mark.parametrize(("header", "expected"), [
    (basic("alice", "pw"), (b"alice", b"pw")),
    ("basic " + base64.b64encode(b"alice:p:w").decode(), (b"alice", b"p:w")),
    ("BASIC " + base64.b64encode(b":").decode(), (b"", b"")),
    (None, None),
    ("", None),
    ("Bearer abc", None),
    ("Basic", None),
    ("Basic !!!", None),
    ("Basic " + base64.b64encode(b"no-colon").decode(), None),
    ("Basic " + base64.b64encode(b"alice:pw").decode().rstrip("="), None),
    ("Basic é", None),
])
def test_parse_basic(header, expected):
    assert parse_basic(header) == expected


def test_right_password_grants_everything(users_file):
    controller = HtpasswdAccessController("my-realm", users_file)
    grant = controller.authorize(basic("alice", "alice-pw"), [PUSH])
    assert grant.user == "alice"
    assert grant.allows(Access("repository", "other/repo", ("pull",)))
    assert grant.allows(Access("registry", "catalog", ("*",)))


@pytest.mark.parametrize("header", [None, basic("alice", "wrong"), basic("mallory", "alice-pw"),
                                    "Bearer token", "Basic ???"])
def test_missing_or_wrong_credentials_get_a_basic_challenge(users_file, header):
    controller = HtpasswdAccessController('my "realm"', users_file)
    with pytest.raises(Unauthorized) as denied:
        controller.authorize(header, [PUSH])
    assert denied.value.challenge == 'Basic realm="my \\"realm\\""'
    assert denied.value.accesses == (PUSH,)


def test_unknown_user_costs_one_dummy_bcrypt_compare(users_file, checkpw_calls):
    controller = HtpasswdAccessController("r", users_file)
    assert not controller.check(b"mallory", b"whatever")
    assert len(checkpw_calls) == 1
    dummy = checkpw_calls[0]
    assert dummy not in parse_htpasswd(users_file.read_bytes()).values()
    assert re.fullmatch(rb"\$2b\$04\$.{53}", dummy), "dummy hash at the cost the entries use"
    assert not controller.check(b"mallory", b"again")
    assert checkpw_calls == [dummy, dummy]


def test_wrong_password_costs_one_compare_and_is_not_cached(users_file, checkpw_calls):
    controller = HtpasswdAccessController("r", users_file)
    for _ in range(3):
        assert not controller.check(b"alice", b"wrong")
    alice = parse_htpasswd(users_file.read_bytes())[b"alice"]
    assert checkpw_calls == [alice, alice, alice]


def test_non_bcrypt_entry_never_logs_in_but_still_costs_a_compare(tmp_path, checkpw_calls,
                                                                  dockyard_logs):
    path = tmp_path / "htpasswd"
    # {SHA} of "secret" and an MD5-crypt entry: formats Apache supports and Distribution does not.
    path.write_text("sha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
                    "md5:$apr1$abc$0123456789abcdefghijkl\n" + cheap_entry("ok", b"pw") + "\n")
    controller = HtpasswdAccessController("r", path)
    assert "sha, md5" in dockyard_logs.text or "md5, sha" in dockyard_logs.text
    assert not controller.check(b"sha", b"secret")
    assert not controller.check(b"md5", b"secret")
    assert len(checkpw_calls) == 2
    assert controller.check(b"ok", b"pw")


def test_password_over_72_bytes_never_matches(tmp_path, checkpw_calls):
    password72 = b"p" * 72
    path = tmp_path / "htpasswd"
    path.write_text(cheap_entry("long", password72) + "\n")
    controller = HtpasswdAccessController("r", path)
    # Python's bcrypt (and Apache's) would compare only the first 72 bytes: Go refuses.
    assert not controller.check(b"long", password72 + b"x")
    assert not controller.check(b"long", password72 + b"x" * 100)
    assert len(checkpw_calls) == 2, "an overlong password still costs one compare"
    assert controller.check(b"long", password72)


def test_successful_checks_are_cached_then_expire(users_file, checkpw_calls):
    now = [1000.0]
    controller = HtpasswdAccessController("r", users_file, cache_ttl=60, clock=lambda: now[0])
    assert controller.check(b"alice", b"alice-pw")
    assert controller.check(b"alice", b"alice-pw")
    controller.authorize(basic("alice", "alice-pw"), [PUSH])
    assert len(checkpw_calls) == 1, "a push's many requests must not each pay for bcrypt"
    assert not controller.check(b"alice", b"other"), "the cache is keyed by the password too"
    assert len(checkpw_calls) == 2
    now[0] += 61
    assert controller.check(b"alice", b"alice-pw")
    assert len(checkpw_calls) == 3, "an expired cache entry means a new bcrypt compare"


def test_cache_is_bounded(users_file, checkpw_calls):
    controller = HtpasswdAccessController("r", users_file, cache_size=1)
    assert controller.check(b"alice", b"alice-pw")
    assert controller.check(b"bob", b"bob-pw")  # evicts alice
    assert controller.check(b"bob", b"bob-pw")
    assert len(checkpw_calls) == 2
    assert controller.check(b"alice", b"alice-pw")
    assert len(checkpw_calls) == 3


def test_cache_keys_hold_no_plain_password(users_file):
    controller = HtpasswdAccessController("r", users_file)
    assert controller.check(b"alice", b"alice-pw")
    assert all(b"alice-pw" not in user + digest for user, digest in controller._cache)


def test_file_changes_are_seen_on_the_next_request(users_file, checkpw_calls):
    controller = HtpasswdAccessController("r", users_file)
    assert controller.check(b"alice", b"alice-pw")  # now cached
    assert not controller.check(b"carol", b"carol-pw")

    users_file.write_text(cheap_entry("carol", b"carol-pw") + "\n"
                          + cheap_entry("bob", b"bob-pw") + "\n")
    assert controller.check(b"carol", b"carol-pw"), "added user"
    assert not controller.check(b"alice", b"alice-pw"), "removed user, although cached"


def test_password_change_with_identical_stat_is_seen(users_file, monkeypatch):
    """On a filesystem with coarse timestamps a rewrite can leave the stat unchanged (bcrypt
    hashes all have the same length): a recently written file is compared by content."""
    monkeypatch.setattr(htpasswd_module, "_signature",
                        lambda st: (0, st.st_size, st.st_ino, st.st_dev, 0))
    controller = HtpasswdAccessController("r", users_file)
    assert controller.check(b"alice", b"alice-pw")
    new_hash = bcrypt.hashpw(b"new-pw!!", bcrypt.gensalt(4))
    data = re.sub(rb"alice:\S+", b"alice:" + new_hash, users_file.read_bytes())
    assert len(data) == users_file.stat().st_size
    with open(users_file, "r+b") as file:  # in place: same inode, same size
        file.write(data)
    assert not controller.check(b"alice", b"alice-pw")
    assert controller.check(b"alice", b"new-pw!!")


def test_unchanged_file_is_not_reread(users_file, monkeypatch):
    controller = HtpasswdAccessController("r", users_file)
    old = users_file.stat().st_mtime - 10
    os.utime(users_file, (old, old))  # no longer "racy"
    controller.check(b"alice", b"alice-pw")
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
    for _ in range(5):
        controller.check(b"alice", b"alice-pw")
    assert reads == []


def test_deleted_or_broken_file_refuses_everyone_until_fixed(users_file, dockyard_logs):
    controller = HtpasswdAccessController("r", users_file)
    content = users_file.read_text()
    assert controller.check(b"alice", b"alice-pw")
    users_file.unlink()
    assert not controller.check(b"alice", b"alice-pw")
    assert "cannot be read" in dockyard_logs.text
    users_file.write_text(content)
    assert controller.check(b"alice", b"alice-pw")
    users_file.write_text(content + "garbage line\n")
    assert not controller.check(b"alice", b"alice-pw")
    assert "is invalid" in dockyard_logs.text


def test_invalid_file_at_startup_is_an_error(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("not an entry\n")
    with pytest.raises(HtpasswdError):
        HtpasswdAccessController("r", path)


def test_missing_file_is_provisioned_with_a_logged_password(tmp_path, dockyard_logs):
    path = tmp_path / "new" / "dir" / "htpasswd"
    controller = HtpasswdAccessController("r", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    entries = parse_htpasswd(path.read_bytes())
    assert list(entries) == [b"docker"]
    assert entries[b"docker"].startswith(b"$2y$10$")

    warnings = [r for r in dockyard_logs.records if r.levelno == logging.WARNING
                and "provisioning with default user" in r.getMessage()]
    assert len(warnings) == 1
    password = warnings[0].password  # type: ignore[attr-defined]
    assert warnings[0].user == "docker"  # type: ignore[attr-defined]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", password), "32 random bytes, base64url, no padding"
    assert controller.check(b"docker", password.encode())
    assert not controller.check(b"docker", b"")

    dockyard_logs.clear()
    HtpasswdAccessController("r", path)  # exists now: left alone, nothing logged
    assert parse_htpasswd(path.read_bytes()) == entries
    assert "provisioning" not in dockyard_logs.text


def test_provisioned_passwords_differ(tmp_path, dockyard_logs):
    HtpasswdAccessController("r", tmp_path / "a")
    HtpasswdAccessController("r", tmp_path / "b")
    passwords = {r.password for r in dockyard_logs.records  # type: ignore[attr-defined]
                 if hasattr(r, "password")}
    assert len(passwords) == 2


# ------------------------------------------------------------------ dockyard htpasswd


def test_htpasswd_entry_is_bcrypt_2y_cost_10():
    line = htpasswd_entry("alice", "s3cret")
    user, _, hashed = line.partition(":")
    assert user == "alice"
    match = re.fullmatch(r"\$2y\$(\d\d)\$[./A-Za-z0-9]{53}", hashed)
    assert match and int(match.group(1)) >= 10
    assert bcrypt.checkpw(b"s3cret", hashed.encode())
    assert parse_htpasswd(line.encode()) == {b"alice": hashed.encode()}


@pytest.mark.parametrize("user", ["", "a:b", "#alice", " alice", "a\nb"])
def test_htpasswd_entry_refuses_names_the_file_cannot_hold(user):
    with pytest.raises(ValueError):
        htpasswd_entry(user, "pw")


def test_htpasswd_entry_refuses_passwords_bcrypt_would_truncate():
    htpasswd_entry("alice", "p" * 72)
    with pytest.raises(ValueError):
        htpasswd_entry("alice", "p" * 73)
    with pytest.raises(ValueError):
        htpasswd_entry("alice", "é" * 37)  # 74 bytes in UTF-8


def test_htpasswd_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dockyard", "htpasswd", "-Bbn", "bob", "pw 1"],
                            capture_output=True, text=True, timeout=60, check=True)
    line = result.stdout.strip()
    assert line.startswith("bob:$2y$")
    path = tmp_path / "htpasswd"
    path.write_text(line + "\n")
    assert HtpasswdAccessController("r", path).check(b"bob", b"pw 1")


def test_authorize_cached_answers_only_recently_checked_logins(users_file, checkpw_calls):
    controller = HtpasswdAccessController("my-realm", users_file)
    assert controller.authorize_cached(basic("alice", "alice-pw"), [PUSH]) is None
    assert checkpw_calls == []  # The cache look-up never pays for bcrypt.
    controller.authorize(basic("alice", "alice-pw"), [PUSH])
    grant = controller.authorize_cached(basic("alice", "alice-pw"), [PUSH])
    assert grant is not None and grant.user == "alice"
    assert controller.authorize_cached(basic("alice", "wrong"), [PUSH]) is None
    with pytest.raises(Unauthorized):
        controller.authorize_cached(None, [PUSH])
