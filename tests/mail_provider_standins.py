"""Local stand-ins of the mail providers' suppression-list APIs: real HTTP servers on loopback that speak each
provider's documented API (paths, methods, auth headers, JSON shapes), keep a list, and record every request.

- SendGrid v3: `Authorization: Bearer <key>`; POST /v3/asm/suppressions/global {"recipient_emails": [...]} → 201;
  DELETE /v3/asm/suppressions/global/{email} → 204; GET /v3/suppression/unsubscribes?limit=&offset= → [{created, email}].
- Mailgun v3: HTTP Basic api:<key>; POST /v3/{domain}/unsubscribes (form: address, tag) → 200 {message, address};
  DELETE /v3/{domain}/unsubscribes/{address} → 200, or 404 when absent; GET /v3/{domain}/unsubscribes?limit=
  → {items: [{address, tags, created_at}], paging: {first, next, previous, last}} (next: page=next&address=…).
- Postmark: `X-Postmark-Server-Token`; POST /message-streams/{stream}/suppressions and …/suppressions/delete
  {"Suppressions": [{"EmailAddress"}]} → {"Suppressions": [{EmailAddress, Status, Message}]};
  GET …/suppressions/dump → {"Suppressions": [{EmailAddress, SuppressionReason, Origin, CreatedAt}]}.
- Amazon SES v2: SigV4 (`Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/ses/aws4_request, …`);
  PUT /v2/email/suppression/addresses {EmailAddress, Reason} → 200 {}; DELETE …/addresses/{email} → 200 {},
  or 404 NotFoundException; GET …/addresses?PageSize=&NextToken= → {SuppressedDestinationSummaries, NextToken?}.

`fail_next` makes the next N changes answer 503 (then the list is unchanged).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SENDGRID_KEY = "SG.test-key.for-the-stand-in"
MAILGUN_KEY = "mailgun-private-api-key"
MAILGUN_DOMAIN = "mg.example.com"
POSTMARK_TOKEN = "postmark-server-token"
POSTMARK_STREAM = "broadcast"
AWS_KEY_ID, AWS_SECRET, SES_REGION = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-west-1"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StandIn:
    """One provider's API: its list (address -> how it got there) and every request it was sent."""

    name: str
    listed: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    fail_next: int = 0
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def changes(self) -> list[tuple[str, str]]:
        """(add|remove, address) of every accepted or refused change request, in order."""
        return [change for request in self.requests if (change := CHANGE_OF[self.name](request)) is not None]

    def start(self) -> StandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, unquote(parts.path), parse_qs(parts.query), dict(self.headers.items()), self.rfile.read(length)
                )
                with stand_in.lock:
                    stand_in.requests.append(request)
                    status, body, headers = ROUTES[stand_in.name](stand_in, request)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 (http.server's names)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def failing(self) -> bool:
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return False


Answer = tuple[int, Any, dict[str, str]]
UNAVAILABLE: Answer = (503, {"message": "try again later"}, {})


def _sendgrid(stand_in: StandIn, request: Request) -> Answer:
    if request.headers.get("Authorization") != f"Bearer {SENDGRID_KEY}":
        return 401, {"errors": [{"field": None, "message": "authorization required"}]}, {}
    if request.path == "/v3/asm/suppressions/global" and request.method == "POST":
        if stand_in.failing():
            return UNAVAILABLE
        emails = request.json()["recipient_emails"]
        for email in emails:
            stand_in.listed[email] = {"created": int(time.time())}
        return 201, {"recipient_emails": emails}, {}
    if request.path.startswith("/v3/asm/suppressions/global/") and request.method == "DELETE":
        if stand_in.failing():
            return UNAVAILABLE
        stand_in.listed.pop(request.path.rsplit("/", 1)[1], None)
        return 204, b"", {}
    if request.path == "/v3/suppression/unsubscribes" and request.method == "GET":
        limit, offset = int(request.query["limit"][0]), int(request.query.get("offset", ["0"])[0])
        page = sorted(stand_in.listed.items())[offset : offset + limit]
        return 200, [{"created": info["created"], "email": email} for email, info in page], {}
    return 404, {"errors": [{"message": "not found"}]}, {}


def _mailgun(stand_in: StandIn, request: Request) -> Answer:
    expected = "Basic " + base64.b64encode(f"api:{MAILGUN_KEY}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return 401, b"Forbidden", {"Content-Type": "text/plain"}
    base = f"/v3/{MAILGUN_DOMAIN}/unsubscribes"
    if request.path == base and request.method == "POST":
        if stand_in.failing():
            return UNAVAILABLE
        form = parse_qs(request.body.decode())
        address = form["address"][0]
        stand_in.listed[address] = {"tags": [form.get("tag", ["*"])[0]], "created_at": "Mon, 30 Nov 2026 16:40:11 UTC"}
        return 200, {"message": "Address has been added to the unsubscribes table", "address": address}, {}
    if request.path.startswith(base + "/") and request.method == "DELETE":
        if stand_in.failing():
            return UNAVAILABLE
        address = request.path[len(base) + 1 :]
        if stand_in.listed.pop(address, None) is None:
            return 404, {"message": "Address not found in unsubscribers table"}, {}
        return 200, {"message": "Unsubscribe event has been removed", "address": address}, {}
    if request.path == base and request.method == "GET":
        limit = int(request.query["limit"][0])
        after = request.query.get("address", [""])[0] if request.query.get("page") == ["next"] else ""
        page = [item for item in sorted(stand_in.listed.items()) if item[0] > after][:limit]
        url = f"http://{request.headers['Host']}{base}"
        last = page[-1][0] if page else after
        paging = {"first": f"{url}?limit={limit}", "next": f"{url}?page=next&address={last}&limit={limit}",
                  "previous": f"{url}?page=previous&address={after}&limit={limit}", "last": f"{url}?page=last&limit={limit}"}  # fmt: skip
        return 200, {"items": [{"address": a, **info} for a, info in page], "paging": paging}, {}
    return 404, {"message": "not found"}, {}


def _postmark(stand_in: StandIn, request: Request) -> Answer:
    if request.headers.get("X-Postmark-Server-Token") != POSTMARK_TOKEN:
        return 401, {"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied in the HTTP headers."}, {}
    base = f"/message-streams/{POSTMARK_STREAM}/suppressions"
    if request.method == "POST" and request.path in (base, base + "/delete"):
        if stand_in.failing():
            return UNAVAILABLE
        results = []
        for item in request.json()["Suppressions"]:
            address = item["EmailAddress"]
            if request.path == base:
                stand_in.listed[address] = {"SuppressionReason": "ManualSuppression", "Origin": "Customer"}
                results.append({"EmailAddress": address, "Status": "Suppressed", "Message": None})
            else:
                stand_in.listed.pop(address, None)
                results.append({"EmailAddress": address, "Status": "Deleted", "Message": None})
        return 200, {"Suppressions": results}, {}
    if request.method == "GET" and request.path == base + "/dump":
        items = [
            {"EmailAddress": a, **info, "CreatedAt": "2026-11-30T08:58:33-05:00"} for a, info in sorted(stand_in.listed.items())
        ]
        return 200, {"Suppressions": items}, {}
    return 404, {"ErrorCode": 404, "Message": "not found"}, {}


def _ses(stand_in: StandIn, request: Request) -> Answer:
    authorization = request.headers.get("Authorization", "")
    scope = f"/{SES_REGION}/ses/aws4_request"
    if not (authorization.startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/") and scope in authorization):
        return (
            403,
            {"message": "The security token included in the request is invalid."},
            {"x-amzn-ErrorType": "UnrecognizedClientException"},
        )
    base = "/v2/email/suppression/addresses"
    if request.path == base and request.method == "PUT":
        if stand_in.failing():
            return UNAVAILABLE
        body = request.json()
        if body.get("Reason") not in ("BOUNCE", "COMPLAINT"):
            return 400, {"message": "Reason must be BOUNCE or COMPLAINT"}, {"x-amzn-ErrorType": "BadRequestException"}
        stand_in.listed[body["EmailAddress"]] = {"Reason": body["Reason"], "LastUpdateTime": time.time()}
        return 200, {}, {}
    if request.path.startswith(base + "/") and request.method == "DELETE":
        if stand_in.failing():
            return UNAVAILABLE
        if stand_in.listed.pop(request.path[len(base) + 1 :], None) is None:
            return 404, {"message": "Email address is not on the suppression list"}, {"x-amzn-ErrorType": "NotFoundException"}
        return 200, {}, {}
    if request.path == base and request.method == "GET":
        size, start = int(request.query.get("PageSize", ["100"])[0]), int(request.query.get("NextToken", ["0"])[0])
        items = sorted(stand_in.listed.items())
        page = [{"EmailAddress": a, **info} for a, info in items[start : start + size]]
        answer: dict[str, Any] = {"SuppressedDestinationSummaries": page}
        if start + size < len(items):
            answer["NextToken"] = str(start + size)
        return 200, answer, {}
    return 404, {"message": "not found"}, {"x-amzn-ErrorType": "NotFoundException"}


ROUTES = {"sendgrid": _sendgrid, "mailgun": _mailgun, "postmark": _postmark, "ses": _ses}


def _change_sendgrid(request: Request) -> tuple[str, str] | None:
    if request.method == "POST" and request.path == "/v3/asm/suppressions/global":
        return "add", ",".join(request.json()["recipient_emails"])
    if request.method == "DELETE":
        return "remove", request.path.rsplit("/", 1)[1]
    return None


def _change_mailgun(request: Request) -> tuple[str, str] | None:
    if request.method == "POST":
        return "add", parse_qs(request.body.decode())["address"][0]
    if request.method == "DELETE":
        return "remove", request.path.rsplit("/", 1)[1]
    return None


def _change_postmark(request: Request) -> tuple[str, str] | None:
    if request.method != "POST":
        return None
    address = ",".join(item["EmailAddress"] for item in request.json()["Suppressions"])
    return ("remove" if request.path.endswith("/delete") else "add"), address


def _change_ses(request: Request) -> tuple[str, str] | None:
    if request.method == "PUT":
        return "add", request.json()["EmailAddress"]
    if request.method == "DELETE":
        return "remove", request.path.rsplit("/", 1)[1]
    return None


CHANGE_OF = {"sendgrid": _change_sendgrid, "mailgun": _change_mailgun, "postmark": _change_postmark, "ses": _change_ses}


def sync_settings(stand_ins: dict[str, StandIn]) -> dict[str, str]:
    """The settings that point prefs at these stand-ins (the AWS keys go in the environment)."""
    return {
        "PREFS_SYNC_TARGETS": ",".join(stand_ins),
        "PREFS_SENDGRID_API_KEY": SENDGRID_KEY,
        "PREFS_SENDGRID_API_URL": stand_ins["sendgrid"].url,
        "PREFS_MAILGUN_API_KEY": MAILGUN_KEY,
        "PREFS_MAILGUN_DOMAIN": MAILGUN_DOMAIN,
        "PREFS_MAILGUN_API_URL": stand_ins["mailgun"].url,
        "PREFS_POSTMARK_SERVER_TOKEN": POSTMARK_TOKEN,
        "PREFS_POSTMARK_MESSAGE_STREAM": POSTMARK_STREAM,
        "PREFS_POSTMARK_API_URL": stand_ins["postmark"].url,
        "PREFS_SES_REGION": SES_REGION,
        "PREFS_SES_API_URL": stand_ins["ses"].url,
    }
