"""Typed DoorLoop errors: each names the endpoint, page and status, never the token.

``transient`` says whether trying again later can help; the dead-letter queue classifies
failures by it.
"""

from __future__ import annotations


class DoorLoopError(Exception):
    """A DoorLoop request that did not give a usable answer."""

    transient = False
    code = "DOORLOOP_ERROR"

    def __init__(self, message: str, *, path: str, page: int | None = None, status: int | None = None) -> None:
        self.path = path
        self.page = page
        self.status = status
        where = f"GET {path}" + (f" page {page}" if page is not None else "")
        status_text = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{where}{status_text}: {message}")


class DoorLoopAuthError(DoorLoopError):
    """401: the token is missing, wrong or revoked."""

    code = "UNAUTHORIZED"


class DoorLoopPermissionError(DoorLoopError):
    """405 METHOD_NOT_ALLOWED: the token's role may not use this endpoint."""

    code = "METHOD_NOT_ALLOWED"


class DoorLoopRequestError(DoorLoopError):
    """Any other 4xx: the request itself is wrong and repeating it will not help."""

    code = "BAD_REQUEST"


class DoorLoopResponseError(DoorLoopError):
    """A body that is not DoorLoop JSON (an HTML login page, another content type)."""

    code = "NOT_JSON"


class DoorLoopUnavailableError(DoorLoopError):
    """5xx, timeouts, broken or truncated bodies that outlasted every retry."""

    transient = True
    code = "UNAVAILABLE"


class DoorLoopListingError(DoorLoopError):
    """A listing that read short or changed under us (totals moved between pages).

    Transient: the data moved while we paged; a re-read normally gives a consistent
    snapshot.
    """

    transient = True
    code = "INCONSISTENT_LISTING"
