#!/usr/bin/env python3
"""Generate cron.json and once.json, the fire-time vectors that
pkg/schedule's tests compare against.

The vectors are computed independently of the Go code: this script
parses cron expressions with its own small parser and finds fire instants
by brute force, walking every UTC minute and asking Python's zoneinfo what
the local clock shows, instead of searching over fields as the Go code does.
The semantics it encodes are those of docs/scheduling.md:

* a matching local time fires at the instant the clock shows it;
* a matching local time skipped by a forward change fires once, at the
  instant of the change (the first instant after the jump);
* in a repeated (fall-back) period, expressions whose hour field starts
  with '*' or contains a step fire in both passes, others in the first only;
* day of month and day of week combine as in Vixie cron: if either field
  starts with '*' both must match, otherwise either may.

Run from this folder with the system's tzdata (the Go tests use the same
database when the host has one):  python3 gen_vectors.py
"""
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
MIN = timedelta(minutes=1)

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
BOUNDS = [(0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, MONTHS), (0, 7, DAYS)]


def field(text, lo, hi, names):
    out = set()
    for item in text.split(","):
        rng, _, step = item.partition("/")
        step = int(step) if step else 1
        val = lambda s: names[s.lower()] if s.lower() in names else int(s)
        if rng == "*":
            a, b = lo, (6 if hi == 7 else hi)
        elif "-" in rng:
            a, b = (val(x) for x in rng.split("-"))
        else:
            a = val(rng)
            b = a if not step or "/" not in item else (6 if hi == 7 else hi)
        out.update(range(a, b + 1, step))
    return {0 if (hi == 7 and v == 7) else v for v in out}


def parse(expr):
    text = MACROS.get(expr.strip().lower(), expr)
    parts = text.split()
    sets = [field(p, *BOUNDS[i]) for i, p in enumerate(parts)]
    return {"sets": sets, "dom_star": parts[2].startswith("*"), "dow_star": parts[4].startswith("*"),
            "repeats": parts[1].startswith("*") or "/" in parts[1]}


def matches(c, wall):
    mi, ho, dom, mon, dow = c["sets"]
    if wall.minute not in mi or wall.hour not in ho or wall.month not in mon:
        return False
    d_ok, w_ok = wall.day in dom, (wall.weekday() + 1) % 7 in dow
    return (d_ok and w_ok) if (c["dom_star"] or c["dow_star"]) else (d_ok or w_ok)


def ambiguous(wall, tz):
    return wall.replace(tzinfo=tz, fold=0).utcoffset() != wall.replace(tzinfo=tz, fold=1).utcoffset()


def next_fires(expr, zone, after, count, horizon_days=800):
    c, tz = parse(expr), ZoneInfo(zone)
    start = after.replace(second=0, microsecond=0)
    out = []
    u = start
    prev_off = (u - MIN).astimezone(tz).utcoffset()
    end = start + timedelta(days=horizon_days)
    while u < end and len(out) < count:
        local = u.astimezone(tz)
        off = local.utcoffset()
        if off > prev_off:
            # Forward change at u: local times [u+prev_off, u+off) never
            # show. One fire at u if any of them matches.
            w = (u + prev_off).replace(tzinfo=None)
            stop = (u + off).replace(tzinfo=None)
            while w < stop:
                if matches(c, w):
                    if u > after and u not in out:
                        out.append(u)
                    break
                w += MIN
        prev_off = off
        wall = local.replace(tzinfo=None)
        if matches(c, wall) and u > after:
            second_pass = local.fold == 1 and ambiguous(wall, tz)
            if (not second_pass or c["repeats"]) and u not in out:
                out.append(u)
        u += MIN
    return out


def once_instant(zone, wall):
    tz = ZoneInfo(zone)
    first = wall.replace(tzinfo=tz, fold=0)
    back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back == wall:
        return first.astimezone(UTC)
    # Skipped local time: find the forward change it falls in.
    u = (wall - timedelta(hours=30)).replace(tzinfo=UTC)
    prev = u.astimezone(tz).utcoffset()
    while True:
        u += MIN
        off = u.astimezone(tz).utcoffset()
        if off > prev and (u + prev).replace(tzinfo=None) <= wall < (u + off).replace(tzinfo=None):
            return u
        prev = off


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Zones on both sides of the equator, with one-hour, half-hour and
# midnight changes, a negative DST (Casablanca) and zones without DST. The
# instants are the 2026 changes (Sao Paulo: its last, in 2018/2019).
TRANSITIONS = {
    "America/New_York": ["2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z"],
    "Europe/London": ["2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"],
    "Europe/Berlin": ["2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"],
    "Australia/Sydney": ["2026-04-04T16:00:00Z", "2026-10-03T16:00:00Z"],
    "Pacific/Auckland": ["2026-04-04T14:00:00Z", "2026-09-26T14:00:00Z"],
    "Australia/Lord_Howe": ["2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z"],
    "America/Santiago": ["2026-04-05T03:00:00Z", "2026-09-06T04:00:00Z"],
    "America/Havana": ["2026-03-08T05:00:00Z", "2026-11-01T05:00:00Z"],
    "America/Sao_Paulo": ["2018-11-04T03:00:00Z", "2019-02-17T02:00:00Z"],
    "Africa/Casablanca": ["2026-02-15T02:00:00Z", "2026-03-22T02:00:00Z"],
    "Pacific/Chatham": ["2026-04-04T14:00:00Z", "2026-09-26T14:00:00Z"],
    "Asia/Kolkata": ["2026-03-08T07:00:00Z"],
    "UTC": ["2026-03-08T07:00:00Z"],
}

EXPRS = ["0 2 * * *", "30 1 * * *", "30 2 * * *", "0 3 * * *", "0 0 * * *", "30 0 * * *", "0 23 * * *",
         "*/15 * * * *", "0 * * * *", "30 * * * *", "0 */2 * * *", "15 1-3 * * *", "*/30 0-3 * * *",
         "@hourly", "@daily", "0 3 * * SUN", "0 9 1,15 * MON", "0 9 */2 * MON", "45 1 * * 0-7",
         "0 12 * JAN-DEC MON-FRI", "5 4 * * 7"]


def main():
    cron, once = [], []
    for zone, changes in TRANSITIONS.items():
        for ch in changes:
            t = datetime.fromisoformat(ch.replace("Z", "+00:00"))
            for back in (timedelta(hours=3), timedelta(hours=26)):
                after = t - back
                for expr in EXPRS:
                    n = 8 if expr.startswith(("*", "0 *", "30 *", "@hourly", "*/30", "15 1-3")) else 4
                    nx = next_fires(expr, zone, after, n)
                    cron.append({"zone": zone, "cron": expr, "after": iso(after), "next": [iso(x) for x in nx]})
            tz = ZoneInfo(zone)
            local = t.astimezone(tz).replace(tzinfo=None)
            for delta in (-90, -60, -45, -30, -1, 0, 1, 30, 45, 59, 60, 61, 90):
                w = local + timedelta(minutes=delta)
                once.append({"zone": zone, "date": w.strftime("%Y-%m-%d"), "time": w.strftime("%H:%M:%S"),
                             "instant": iso(once_instant(zone, w))})
            # Local times just before the change, read with the old offset,
            # are the ones a forward change skips.
            before = (t + (t - timedelta(seconds=1)).astimezone(tz).utcoffset()).replace(tzinfo=None)
            for delta in (0, 15, 30, 59):
                w = before + timedelta(minutes=delta)
                once.append({"zone": zone, "date": w.strftime("%Y-%m-%d"), "time": w.strftime("%H:%M:%S"),
                             "instant": iso(once_instant(zone, w))})
    for name, rows in (("cron.json", cron), ("once.json", once)):
        with open(name, "w") as f:
            f.write("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    print(f"{len(cron)} cron vectors, {len(once)} once vectors")


if __name__ == "__main__":
    main()
