"""What a console page raises when it cannot show what was asked: presented as an HTML
error page with the status (gateway/http/console/edge.py), never JSON and never a 500."""

from __future__ import annotations

# The statuses a console page may answer with; anything else is a bug in the page.
ERROR_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503})


class ConsoleError(Exception):
    """`title` heads the page, `message` says what to do; neither may hold personal data
    the viewer's role may not see (they are shown as written)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        if status not in ERROR_STATUSES:
            raise ValueError(f"a console error page has no status {status}")
        super().__init__(f"{status} {title}: {message}")
        self.status = status
        self.title = title
        self.message = message


class ConsoleForbidden(ConsoleError):
    """The signed-in role lacks the permission a page or action needs (as the admin API's 403)."""

    def __init__(self, message: str = "Your role may not see or do this.") -> None:
        super().__init__(403, "Not allowed", message)


def bad_input(message: str) -> ConsoleError:
    """A query value, path segment or form field the console cannot take: 400."""
    return ConsoleError(400, "Bad request", message)
