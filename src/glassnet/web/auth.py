"""Who a local web face answers: its owner, who holds the token printed to the terminal that started it.

Jupyter's convention. The server makes a random token (or takes ``GLASSNET_TOKEN``, as Jupyter takes
``JUPYTER_TOKEN``, for scripts; never a command-line argument, which every local user can read in
the process list) and prints ``http://127.0.0.1:PORT/?token=TOKEN`` once, to its owner's terminal.
Opening that URL sets a cookie and redirects to the page without the token in its address; the
cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and named
for the port, because a browser sends a host's cookies to every port of it. A script sends
``Authorization: token TOKEN`` instead. Every other request gets 403, and the token is never sent to
anyone: on a shared machine, any local user can connect to 127.0.0.1, but only the owner can read
the terminal.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from collections.abc import Mapping
from email.message import Message
from urllib.parse import parse_qs

from glassnet.errors import GlassnetError

TOKEN_ENV = "GLASSNET_TOKEN"
_TOKEN = re.compile(r"[A-Za-z0-9_.~-]{16,256}")      # safe unquoted in a URL and in a cookie
DENIED = ("this server answers only its owner: open the URL printed in the terminal where 'glassnet serve' or "
          "'glassnet train --watch' started (it ends in ?token=…), or send the header 'Authorization: token …'")
WRONG_TOKEN = ("the token in this URL is not this server's (each server makes its own when it starts): open the URL "
               "printed in the terminal where it started")


class TokenError(GlassnetError):
    """``GLASSNET_TOKEN`` holds something that cannot be a token."""


def owner_token(environ: Mapping[str, str] = os.environ) -> str:
    """``GLASSNET_TOKEN`` when it is set (checked), else a fresh random token (256 bits)."""
    token = environ.get(TOKEN_ENV)
    if token is None:
        return secrets.token_urlsafe(32)
    if not _TOKEN.fullmatch(token):
        raise TokenError(f"{TOKEN_ENV} must be 16 to 256 characters of A-Z, a-z, 0-9 and _ . ~ - (a token short "
                         f"enough to guess would let anyone in); got {len(token)} characters. Unset it for a "
                         "random token, or: export GLASSNET_TOKEN=$(python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))')")
    return token


class Owner:
    """The token of one server on ``port``, and the checks of a request against it (each in constant time)."""

    def __init__(self, token: str, port: int) -> None:
        if not _TOKEN.fullmatch(token):
            raise ValueError("a token is 16 to 256 characters of A-Z, a-z, 0-9 and _ . ~ -")
        self._token = token.encode()
        self.cookie_name = f"glassnet-token-{port}"

    def url(self, base: str, view: str = "") -> str:
        """The owner's URL: ``base`` (``http://host:port``) with the token, then ``view`` (``#training``)."""
        return f"{base}/?token={self._token.decode()}{view}"

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self._token)

    def by_header(self, headers: Message) -> bool:
        """Whether the request carries ``Authorization: token <the token>`` (a script's way)."""
        parts = (headers.get("Authorization") or "").split(None, 1)
        return len(parts) == 2 and parts[0].lower() == "token" and self.matches(parts[1].strip())

    def by_cookie(self, headers: Message) -> bool:
        """Whether the request carries this server's cookie with the token (the page's way)."""
        values = [value for header in headers.get_all("Cookie") or () for name, value in _cookies(header)
                  if name == self.cookie_name]
        return any(self.matches(value) for value in values)

    def by_query(self, query: str) -> bool | None:
        """True or False when ``query`` holds one ``token`` parameter, right or wrong; None when it holds none."""
        try:
            tokens = parse_qs(query, keep_blank_values=True, max_num_fields=20).get("token")
        except ValueError:                                 # too many fields
            return False
        if tokens is None:
            return None
        return len(tokens) == 1 and self.matches(tokens[0])

    def set_cookie(self) -> str:
        """The ``Set-Cookie`` header value that lets the owner's browser in from now on (until it closes)."""
        return f"{self.cookie_name}={self._token.decode()}; Path=/; HttpOnly; SameSite=Strict"


def _cookies(header: str) -> list[tuple[str, str]]:
    """The name=value pairs of a Cookie header (a plain split: the standard parser raises on odd input)."""
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return [(name.strip(), value.strip()) for name, sep, value in pairs if sep]
