"""The gunicorn worker (``gunicorn.conf.py``): gunicorn's threaded worker with a plain-English
page, instead of gunicorn's bare one, for a request line or headers over its limits.

gunicorn refuses such a request before the app sees it (``limit_request_line``, 4094 bytes by
default; ``limit_request_fields``, ``limit_request_field_size``), so the limits stay as they are
and only the answer changes. Other errors keep gunicorn's handling.
"""
from __future__ import annotations

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

_PAGE = (
    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title} - Borough Dashboards</title></head>"
    '<body style="font-family:Arial,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;'
    'font-size:1.1875rem;line-height:1.4"><main><h1>{title}</h1><p>{text}</p>'
    '<p>Go to the <a href="/">overview</a>, or choose the filters again on the page you wanted: '
    "the address bar then holds a link of the usual length.</p></main></body></html>"
)

_ANSWERS = {
    LimitRequestLine: (414, "URI Too Long", "This link is too long",
                       "The web address is longer than this service accepts, so we could not "
                       "open it. It may have been cut and pasted twice, or changed by another "
                       "program."),
    LimitRequestHeaders: (431, "Request Header Fields Too Large", "Your request is too large",
                          "Your browser sent more information with the request than this "
                          "service accepts (often a very large cookie), so we could not open "
                          "the page."),
}


def too_large_response(exc: Exception) -> bytes | None:
    """The whole HTTP response for a request over gunicorn's limits (None for other errors)."""
    for kind, (status, reason, title, text) in _ANSWERS.items():
        if isinstance(exc, kind):
            body = _PAGE.format(title=title, text=text).encode()
            head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
                    "Content-Type: text/html; charset=utf-8\r\n"
                    "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n")
            return head.encode("latin-1") + body
    return None


class Worker(ThreadWorker):
    def handle_error(self, req, client, addr, exc):
        response = too_large_response(exc)
        if response is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Refused a request from ip=%s: %s", (addr or ("",))[0],
                         str(exc)[:120])
        try:
            util.write_nonblock(client, response)
        except Exception:  # noqa: BLE001 - the client may have gone; nothing more to do
            self.log.debug("Failed to send the refusal.")
