import hashlib

import pytest

from dockyard.core.digest import Digest, InvalidDigest, is_valid_digest

SHA256 = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128


def test_parse_round_trips() -> None:
    assert str(Digest.parse(SHA256)) == SHA256
    assert Digest.parse(SHA512).algorithm == "sha512"


@pytest.mark.parametrize("text", ["sha257:" + "a" * 64, "md5:" + "a" * 32, "sha256:" + "a" * 63,
                                  "sha256:" + "a" * 65, "sha256:" + "A" * 64,
                                  "sha256:" + "g" * 64, "a" * 64, "sha512:" + "a" * 64,
                                  SHA256 + "\n", "", "sha256:"])
def test_rejects(text: str) -> None:
    assert not is_valid_digest(text)
    with pytest.raises(InvalidDigest):
        Digest.parse(text)


def test_of_bytes() -> None:
    assert Digest.of_bytes(b"x").hex == hashlib.sha256(b"x").hexdigest()
    assert Digest.of_bytes(b"x", "sha512").hex == hashlib.sha512(b"x").hexdigest()
