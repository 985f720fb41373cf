"""P5: RFC 8058 one-click unsubscribe POSTs over HTTP vs a trivial JSON route, same app, same server.

    .venv/bin/python bench/one_click.py              # 100,000 recipients, 10 s per measurement
    .venv/bin/python bench/one_click.py --n 20000 --seconds 5

gunicorn (2 sync workers) serves a fresh SQLite database; wrk (Debian's package) sends the load. Every
POST carries a different recipient's token, so each is a real, committed and audited unsubscribe. The
script then checks that every acknowledged unsubscribe left exactly one event. Target (SPEC §9): ≥ 40%.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dataset import SETTINGS, TOPICS, build_sqlite  # noqa: E402
from served import gunicorn, lua_script, wrk  # noqa: E402

# Each wrk thread takes every n-th token from its own offset, so no two requests share a token.
ONE_CLICK_LUA = """
local tokens = {}
for line in io.lines(os.getenv("PREFS_TOKENS")) do tokens[#tokens + 1] = line end
local started = 0
function setup(thread)
  thread:set("offset", started)
  started = started + 1
end
local counter = 0
function request()
  local index = (counter * 2 + offset) % #tokens + 1
  counter = counter + 1
  return wrk.format("POST", "/u/" .. tokens[index], {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    from prefs.tokens import UNSUBSCRIBE, LinkSigner, LinkTarget

    with tempfile.TemporaryDirectory(prefix="prefs-bench-") as directory:
        path = os.path.join(directory, "bench.sqlite3")
        build_sqlite(path, args.n)
        signer = LinkSigner([SETTINGS["PREFS_SECRET_KEYS"]], 365)
        topic = TOPICS[0][0]
        tokens_file = os.path.join(directory, "tokens.txt")
        with open(tokens_file, "w") as handle:
            for pk in range(1, args.n + 1):
                handle.write(signer.sign(UNSUBSCRIBE, LinkTarget(f"r{pk}", "email", topic, f"bench-{pk}")) + "\n")
        env = {**SETTINGS, "PREFS_DATABASE_URL": f"sqlite:///{path}"}
        script = lua_script(ONE_CLICK_LUA)
        with gunicorn(env) as base:
            wrk(base + "/bench/trivial", seconds=2)  # warm-up
            trivial = wrk(base + "/bench/trivial", seconds=args.seconds)
            one_click = wrk(base, seconds=args.seconds, script=script, env={"PREFS_TOKENS": tokens_file})
        connection = sqlite3.connect(path)
        events = connection.execute("SELECT count(*), count(DISTINCT recipient_id) FROM consent_events WHERE via = 'one_click'").fetchone()
        connection.close()

    ratio = one_click.requests_per_second / trivial.requests_per_second
    print(f"P5  one-click unsubscribe POSTs, gunicorn 2 workers, SQLite, {args.n:,} recipients")
    print(f"    trivial route  {trivial.requests_per_second:8.0f} req/s  p50 {trivial.p50_ms:6.2f} ms  p99 {trivial.p99_ms:6.2f} ms")
    print(f"    one-click      {one_click.requests_per_second:8.0f} req/s  p50 {one_click.p50_ms:6.2f} ms  p99 {one_click.p99_ms:6.2f} ms  ({one_click.errors} errors)")
    print(f"    ratio          {ratio:8.0%}   target >= 40%: {'met' if ratio >= 0.4 else 'NOT met'}")
    print(f"    audit          {one_click.requests:,} POSTs answered, {events[0]:,} one-click events for {events[1]:,} people")


if __name__ == "__main__":
    main()
