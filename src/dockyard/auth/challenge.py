"""``WWW-Authenticate`` values, formatted as Distribution formats them (Go's ``%q`` quoting)."""

from dataclasses import dataclass

from dockyard.auth.base import Access

INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: str) -> str:
    """A quoted-string safe for a header: Go ``%q`` style, ASCII only, no control characters."""
    out = []
    for char in value:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code > 0x7E:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def scope_param(accesses: list[Access] | tuple[Access, ...]) -> str:
    """``repository:a:pull,push registry:catalog:*``: one scope per resource, in request order."""
    merged: dict[tuple[str, str], list[str]] = {}
    for access in accesses:
        actions = merged.setdefault((access.type, access.name), [])
        actions.extend(a for a in access.actions if a not in actions)
    return " ".join(f"{type_}:{name}:{','.join(actions)}"
                    for (type_, name), actions in merged.items())


def basic_challenge(realm: str) -> str:
    """``Basic realm="<realm>"`` (htpasswd)."""
    return f"Basic realm={quote(realm)}"


def bearer_challenge(realm: str, service: str, accesses: list[Access] | tuple[Access, ...],
                     error: str | None = None) -> str:
    """``Bearer realm=…,service=…[,scope=…][,error=…]`` (token and silly)."""
    value = f"Bearer realm={quote(realm)},service={quote(service)}"
    scope = scope_param(accesses)
    if scope:
        value += f",scope={quote(scope)}"
    if error:
        value += f",error={quote(error)}"
    return value


@dataclass(frozen=True, slots=True)
class FullAccess:
    """An authenticated user allowed everything (htpasswd and silly have no per-repo rules)."""

    user: str | None

    def allows(self, access: Access) -> bool:
        return True
