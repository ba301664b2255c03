"""What went wrong talking to a Hub, in one line: network failures, refusals, timeouts.

Shared by downloads (:mod:`ganzoo.hub.download`) and uploads (:mod:`ganzoo.hub.upload`).
Every message that may name the endpoint goes through :func:`mask_credentials`, so a
user name and password written into ``HF_ENDPOINT`` (``http://user:password@host``)
never reach an error message. Nothing here imports ``huggingface_hub``: failures are
recognised by their HTTP status and class names, whatever HTTP library it uses.
"""

from __future__ import annotations

import math
import os
import re

from ganzoo.errors import GanzooError, exception_chain

#: Seconds to wait for the Hub's first answer when ``HF_HUB_ETAG_TIMEOUT`` is not set.
DEFAULT_TIMEOUT = 10.0
# scheme://userinfo@ : everything up to the last "@" before the host's first "/".
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s]*@")
_MAX_SERVER_MESSAGE = 200


def mask_credentials(text: str) -> str:
    """``text`` with the user name and password of every URL in it replaced by ``***``.

    ``http://user:password@host/x`` becomes ``http://***@host/x``; URLs without
    credentials are unchanged.
    """
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)


def hub_name() -> str:
    """The Hub named in messages: ``HF_ENDPOINT`` (credentials masked) if set."""
    return mask_credentials(os.environ.get("HF_ENDPOINT") or "the Hugging Face Hub")


def hub_timeout() -> float:
    """Seconds to wait for the Hub's answer: ``HF_HUB_ETAG_TIMEOUT`` if set, else 10.

    Read at each call (huggingface_hub reads it once, at import).

    Raises:
        GanzooError: if the variable is not a positive number.

    """
    text = os.environ.get("HF_HUB_ETAG_TIMEOUT", "").strip()
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        raise GanzooError(
            f"HF_HUB_ETAG_TIMEOUT must be a number of seconds, got '{text}'"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise GanzooError(f"HF_HUB_ETAG_TIMEOUT must be a positive number of seconds, got {text}")
    return value


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of the first answer in ``exc``'s chain, ``None`` if none came."""
    for err in exception_chain(exc):
        status = getattr(getattr(err, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
    return None


def network_error(exc: BaseException, where: str) -> str | None:
    """A one-line description of a network failure, or ``None`` if ``exc`` is not one.

    Tells apart a server error (HTTP 5xx), an answer that is not the Hub's (an HTML
    portal or proxy page), a timeout and an unreachable endpoint, whatever HTTP library
    the installed huggingface_hub uses. An HTTP answer below 500 (a refusal, see
    :func:`http_refusal`) is not a network failure.
    """
    for err in exception_chain(exc):
        status = getattr(getattr(err, "response", None), "status_code", None)
        if isinstance(status, int):
            if status >= 500:
                return f"{where} answered with a server error (HTTP {status}); try again later"
            if status >= 400:
                return None  # the Hub answered: a refusal, not a failure to reach it
        names = {cls.__name__ for cls in type(err).__mro__}
        if "FileMetadataError" in names:
            return (
                f"{where} does not answer like a Hugging Face Hub (no X-Repo-Commit header: "
                "a login portal, a proxy page or a wrong HF_ENDPOINT?)"
            )
        if any("Timeout" in name for name in names):
            return (
                f"{where} did not answer within {hub_timeout():g} s (timed out); check the "
                "connection or HF_ENDPOINT, or raise HF_HUB_ETAG_TIMEOUT"
            )
        if names & {"ConnectError", "ConnectionError", "NetworkError", "ProxyError"} or (
            isinstance(err, OSError) and not isinstance(err, FileNotFoundError)
        ):
            return (
                f"{where} could not be reached (connection failed); "
                "check the connection or HF_ENDPOINT"
            )
    return None


def _server_message(exc: BaseException) -> str:
    """The Hub's own reason for a refusal (``X-Error-Message`` or the body), one short line."""
    for err in exception_chain(exc):
        text = getattr(err, "server_message", None)
        if isinstance(text, str) and text.strip():
            line = " ".join(text.split())
            if len(line) > _MAX_SERVER_MESSAGE:
                line = line[: _MAX_SERVER_MESSAGE - 3] + "..."
            return f": {line.rstrip('.')}"
    return ""


def http_refusal(exc: BaseException, where: str, what: str) -> str | None:
    """A one-line description of an HTTP 4xx refusal, or ``None`` if ``exc`` is not one.

    Args:
        exc: the exception huggingface_hub raised.
        where: the Hub, as named in messages (:func:`hub_name`).
        what: the refused action's object, e.g. ``"the download of 'me/x'"``.

    Returns:
        ``"<where> refused <what> (HTTP 401 ...): <what to check>"``: 401 names the token
        (missing, invalid or expired), 403 the token's permissions (and gated repos),
        400 the request itself (repo id, revision, options); other 4xx give the status.

    """
    status = http_status(exc)
    if status is None or not 400 <= status < 500:
        return None
    reason = _server_message(exc)
    head = f"{where} refused {what}"
    if status == 401:
        return (
            f"{head} (HTTP 401 Unauthorized{reason}): the token is missing, invalid or expired; "
            "check HF_TOKEN, --token / token= or `hf auth login`"
        )
    if status == 403:
        return (
            f"{head} (HTTP 403 Forbidden{reason}): the token may not do this (a read-only "
            "token, another user's namespace, or a gated repo whose terms are not accepted); "
            "check the token's permissions"
        )
    if status == 400:
        return (
            f"{head} (HTTP 400 Bad Request{reason}): the Hub rejected the request itself; "
            "check the repo id, the revision and the options"
        )
    return f"{head} (HTTP {status}{reason})"


def hub_failure(exc: BaseException, where: str, action: str) -> str | None:
    """The one line for a failed Hub call: unreachable, refused (4xx) or another HTTP error.

    Args:
        exc: the exception huggingface_hub raised.
        where: the Hub, as named in messages (:func:`hub_name`).
        action: what failed, e.g. ``"download of 'me/x'"`` or ``"push to 'me/x'"``.

    Returns:
        ``"<action> failed: <network problem>"``, the :func:`http_refusal` line, or
        ``"<action> failed: <the error's first line>"`` for another HTTP error; ``None``
        if ``exc`` is no failure of the Hub or the network.

    """
    from huggingface_hub.errors import HfHubHTTPError

    problem = network_error(exc, where)
    if problem is not None:
        return f"{action} failed: {problem}"
    refused = http_refusal(exc, where, f"the {action}")
    if refused is not None:
        return refused
    if isinstance(exc, HfHubHTTPError):
        text = str(exc).strip()
        return f"{action} failed: " + (text.splitlines()[0] if text else type(exc).__name__)
    return None
