"""The check runner of the plain test scripts in models/: `@check` registers a function, `run()`
runs every registered one, prints ok/FAIL with the traceback, and exits non-zero on any failure."""
import sys
import traceback

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def run():
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"FAIL  {fn.__name__}")
            traceback.print_exc()
    print(f"{len(CHECKS) - failed}/{len(CHECKS)} checks passed")
    sys.exit(1 if failed else 0)
