"""Errors of the API, mapped to HTTP only here, at the edge.

    ApiError                      500  (base; never raised bare)
    ├── BadRequest                400  a parameter is wrong
    │   ├── RangeTooLarge         400  the range exceeds the cap of its interval
    │   ├── UnknownSignal         400  a signal outside the allow-list
    │   └── BadCursor             400  a cursor this API did not issue
    ├── Unauthorized              401  token missing, malformed, unknown, expired or revoked
    ├── Forbidden                 403  the token's role does not allow the route
    └── NotFound                  404  absent, or outside the token's depots

Every error body is ``{"error": <code>, "reason": <text>}`` plus optional
details; a 404 for a foreign vehicle is the same as for an absent one, so a
scoped token learns nothing of other depots.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorBody(BaseModel):
    """The JSON body of every error response."""

    error: str = Field(examples=["range_too_large"])
    reason: str = Field(examples=["interval 1m serves at most 7 days; asked for 30 days"])
    details: dict[str, Any] | None = None


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details or None


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class RangeTooLarge(BadRequest):
    code = "range_too_large"


class UnknownSignal(BadRequest):
    code = "unknown_signal"


class BadCursor(BadRequest):
    code = "bad_cursor"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


def _body(code: str, reason: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return ErrorBody(error=code, reason=reason, details=details).model_dump(exclude_none=True)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(_body(exc.code, exc.reason, exc.details), exc.status, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    reason = f"{'.'.join(first['loc'])}: {first['msg']}"
    return JSONResponse(_body("invalid_request", reason, {"problems": problems}), 422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        _body(code, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None)
    )


def install(app: FastAPI) -> None:
    """Make every error a JSON :class:`ErrorBody` with a reason."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: The error responses every authenticated route documents in the OpenAPI spec.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("A parameter is wrong: range beyond its cap, unknown signal, bad cursor"),
    401: _doc("Token missing, malformed, unknown, expired or revoked"),
    403: _doc("The token's role does not allow this route"),
    404: _doc("Not found, or outside the token's depots"),
    422: _doc("A parameter does not parse"),
}
