"""Faults a test asks for: 429 rate limits (per route or global) and 5xx answers.

A `FaultRule` answers the next `times` requests matching a route with the fault
instead of handling them, shaped the way discord.py reads it: a 429 carries a JSON
``retry_after`` and a ``Via`` header (without ``Via`` discord.py takes the 429 for a
Cloudflare ban and raises), a global one ``"global": true`` and ``X-RateLimit-Global``.
These are deliberate, so they are recorded as `InjectedFault`, never as violations.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.records import InjectedFault

RATE_LIMIT = "rate_limit"
GLOBAL_RATE_LIMIT = "global_rate_limit"
SERVER_ERROR = "server_error"

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    524: "A Timeout Occurred",
}


def _json(data: dict[str, Any], status: int) -> web.Response:
    # sandbox.http_util.json_response, repeated: importing it here would be circular via State.
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


def route_pattern(route: str) -> tuple[str | None, re.Pattern[str]]:
    """Parse ``"POST /interactions/{id}/{token}/callback"`` into a method and a path regex.

    The method is optional (any method then); each ``{placeholder}`` matches one path
    segment whatever it is named; the path is relative to ``/api/v10``.
    """
    parts = route.strip().split(maxsplit=1)
    method: str | None = None
    if len(parts) == 2 and parts[0].upper() in HTTP_METHODS:
        method, path = parts[0].upper(), parts[1]
    else:
        path = route.strip()
    path = path.removeprefix("/api/v10")
    if not path.startswith("/"):
        raise ValueError(f"a route is 'METHOD /path/{{placeholder}}', not {route!r}")
    pieces = re.split(r"(\{[^/{}]*\})", path)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in pieces if p)
    return method, re.compile(f"^{regex}$")


@dataclass
class FaultRule:
    """Answer the next `times` matching requests with a fault; `hits` says which it answered."""

    route: str
    status: int
    kind: str
    times: int
    retry_after: float | None = None
    via: bool = True
    hits: list[InjectedFault] = field(default_factory=list)
    method: str | None = field(init=False)
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.method, self.pattern = route_pattern(self.route)
        if self.times < 1:
            raise ValueError("times must be at least 1")

    @property
    def remaining(self) -> int:
        """How many more matching requests will get the fault."""
        return max(self.times - len(self.hits), 0)

    @property
    def is_global(self) -> bool:
        """Whether this is a global rate limit."""
        return self.kind == GLOBAL_RATE_LIMIT

    def matches(self, method: str, path: str) -> bool:
        """Whether a request (path relative to /api/v10) is one this rule still answers."""
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and self.pattern.match(path) is not None
        )

    def answer(self) -> tuple[web.Response, Any]:
        """The response to send and the body it carries (for the request record)."""
        if self.kind == SERVER_ERROR:
            reason = REASONS.get(self.status, "Server Error")
            if self.status == 502:
                # Discord's 502s come from Cloudflare as an HTML page, not JSON.
                text = f"<html><head><title>{self.status} {reason}</title></head></html>"
                return web.Response(text=text, status=self.status, content_type="text/html"), text
            data: dict[str, Any] = {"message": f"{self.status}: {reason}", "code": 0}
            return _json(data, self.status), data
        assert self.retry_after is not None
        data = {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
        }
        if self.is_global:
            data["code"] = 0
        response = _json(data, 429)
        response.headers["Retry-After"] = str(math.ceil(self.retry_after))
        response.headers["X-RateLimit-Scope"] = "global" if self.is_global else "user"
        if self.is_global:
            response.headers["X-RateLimit-Global"] = "true"
        if self.via:
            response.headers["Via"] = "1.1 google"
        return response, data

    def record(self, method: str, path: str, body: Any) -> InjectedFault:
        """Note one request this rule answered."""
        fault = InjectedFault(
            method=method,
            path=path,
            status=self.status,
            kind=self.kind,
            retry_after=self.retry_after,
            at=time.time(),
            body=body,
        )
        self.hits.append(fault)
        return fault


class Faults:
    """The rules in force, first added first matched."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        """Put a rule in force."""
        self.rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule that answers this request, if any."""
        for rule in self.rules:
            if rule.matches(method, path):
                return rule
        return None

    def clear(self) -> None:
        """Withdraw every rule (their records stay)."""
        self.rules.clear()


def rate_limit_rule(
    route: str, *, times: int, retry_after: float, is_global: bool, via: bool
) -> FaultRule:
    """A 429 rule."""
    if retry_after < 0:
        raise ValueError("retry_after must not be negative")
    kind = GLOBAL_RATE_LIMIT if is_global else RATE_LIMIT
    return FaultRule(route, 429, kind, times, retry_after=retry_after, via=via)


def server_error_rule(route: str, *, status: int, times: int) -> FaultRule:
    """A 5xx rule."""
    if not 500 <= status <= 599:
        raise ValueError(f"a server error is a 5xx status, not {status}")
    return FaultRule(route, status, SERVER_ERROR, times)
