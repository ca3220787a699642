"""``dockyard htpasswd``: what ``htpasswd -Bbn USER PASSWORD`` prints, with no Apache tools."""


def htpasswd_entry(user: str, password: str) -> str:
    """One ``user:bcrypt-hash`` line."""
    raise NotImplementedError
