"""Burst test for issue 16, finding 1: N concurrent anonymous requests to the public complaint form.

Run by hand against a running `make run` (gunicorn, bounded workers x threads):

    python bench/burst.py --url http://127.0.0.1:8000/public/complaints/new/ --requests 500
    python bench/burst.py --url http://127.0.0.1:8000/api/v1/products/ --requests 200 \
        --header "Authorization: Api-Key crm_abcdefgh_wrong"        # wrong API keys: 401s, no 5xx

Every request starts at once (a barrier releases all threads together). Prints the count of
each status (and of connection errors), then asks /readyz once more after the burst to show the
server recovered by itself. Exits 1 when any answer was a 5xx or a connection error.
Standard library only.
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
import urllib.error
import urllib.request


def _fetch(url: str, timeout: float, headers: dict[str, str] | None = None) -> str:
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return str(response.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except (urllib.error.URLError, OSError) as error:
        return f"error:{type(getattr(error, 'reason', error)).__name__}"


def burst(url: str, requests: int, timeout: float, headers: dict[str, str] | None = None) -> collections.Counter:
    results: collections.Counter = collections.Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(requests)

    def one() -> None:
        barrier.wait()
        status = _fetch(url, timeout, headers)
        with lock:
            results[status] += 1

    threads = [threading.Thread(target=one) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/public/complaints/new/")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                        help="send this header, e.g. 'Authorization: Api-Key crm_wrong_key' (repeatable)")
    args = parser.parse_args()
    started = time.monotonic()
    headers = dict(part.split(":", 1) for part in args.header)
    results = burst(args.url, args.requests, args.timeout, {k.strip(): v.strip() for k, v in headers.items()})
    elapsed = time.monotonic() - started
    print(f"{args.requests} concurrent GET {args.url} in {elapsed:.1f} s")
    for status, count in sorted(results.items()):
        print(f"  {status}: {count}")
    bad = sum(count for status, count in results.items() if status.startswith(("5", "error")))
    print(f"5xx or connection errors: {bad}")
    base = args.url.split("/", 3)
    ready = _fetch(f"{base[0]}//{base[2]}/readyz", args.timeout)
    print(f"after the burst /readyz answers {ready}")
    return 1 if bad or ready != "200" else 0


if __name__ == "__main__":
    sys.exit(main())
