"""P5: RFC 8058 one-click unsubscribe POSTs over HTTP vs a trivial JSON route, same app, same server.

    .venv/bin/python bench/one_click.py              # 100,000 recipients, 10 s per measurement
    .venv/bin/python bench/one_click.py --n 20000 --seconds 5

gunicorn (2 sync workers) serves a fresh SQLite database; wrk (Debian's package) sends the load. Every
POST carries a different recipient's token, so each is a real, committed and audited unsubscribe. The
script then counts the events those POSTs left. Target (SPEC §9): ≥ 40%. bench/run.py runs this too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dataset import SETTINGS, TOPICS, build  # noqa: E402
from served import CONNECTIONS, CpuMeter, gunicorn, lua_script, wrk  # noqa: E402

# Each wrk thread takes every other token from its own offset, so no two requests share a token.
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


def measure_one_click(database_url: str, n: int, seconds: int, directory: str) -> dict:
    from sqlalchemy import create_engine, text

    from prefs.tokens import UNSUBSCRIBE, LinkSigner, LinkTarget

    signer = LinkSigner([SETTINGS["PREFS_SECRET_KEYS"]], 365)
    tokens_file = os.path.join(directory, "tokens.txt")
    with open(tokens_file, "w") as handle:
        for pk in range(1, n + 1):
            handle.write(signer.sign(UNSUBSCRIBE, LinkTarget(f"r{pk}", "email", TOPICS[0][0], f"bench-{pk}")) + "\n")
    with gunicorn({**SETTINGS, "PREFS_DATABASE_URL": database_url}) as base:
        wrk(base + "/bench/trivial", seconds=2)  # warm-up
        trivial = wrk(base + "/bench/trivial", seconds=seconds)
        with CpuMeter(base) as meter:
            one_click = wrk(base, seconds=seconds, script=lua_script(ONE_CLICK_LUA), env={"PREFS_TOKENS": tokens_file})
    engine = create_engine(database_url)
    with engine.connect() as connection:
        events, people = connection.execute(
            text("SELECT count(*), count(DISTINCT recipient_id) FROM consent_events WHERE via = 'one_click'")
        ).one()
    engine.dispose()
    return {
        **meter.per_request_us(one_click.requests),
        "trivial_rps": trivial.requests_per_second,
        "one_click_rps": one_click.requests_per_second,
        "one_click_p50_ms": one_click.p50_ms,
        "one_click_p99_ms": one_click.p99_ms,
        "errors": one_click.errors,
        "posts": one_click.requests,
        "events": events,
        "people": people,
        "ratio": one_click.requests_per_second / trivial.requests_per_second,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefs-bench-") as directory:
        url = f"sqlite:///{os.path.join(directory, 'bench.sqlite3')}"
        build(url, args.n)
        result = measure_one_click(url, args.n, args.seconds, directory)
    print(f"P5  one-click unsubscribe POSTs, gunicorn 2 workers, {CONNECTIONS} connections, SQLite, {args.n:,} recipients")
    print(f"    trivial route  {result['trivial_rps']:8.0f} req/s")
    print(
        f"    one-click      {result['one_click_rps']:8.0f} req/s  p50 {result['one_click_p50_ms']:6.2f} ms  p99 {result['one_click_p99_ms']:6.2f} ms  ({result['errors']} errors)"
    )
    print(f"    ratio          {result['ratio']:8.0%}   target >= 40%: {'met' if result['ratio'] >= 0.4 else 'NOT met'}")
    print(
        f"    audit          {result['posts']:,} POSTs answered, {result['events']:,} events for {result['people']:,} people (one each at most)"
    )


if __name__ == "__main__":
    main()
