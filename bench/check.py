"""Check that a benchmark run produced every figure (make bench-smoke): the harness must not rot. Values are not
judged here — they are the subject of bench/RESULTS.md."""

import json
import sys

REQUIRED_PAGES = {
    "anchor: the sign-in page, anonymous",
    "adviser home",
    "adviser inbox",
    "facilitator home",
    "employer home",
    "auditor home",
    "participant file",
    "API referrals",
    "API referrals, typical Mission Locale",
    "facilitator dashboard",
    "facilitator pathway figures, recounted (worker)",
}


def main(path):
    results = json.loads(open(path).read())
    problems = []
    floor = results["anchors"].get("floor", {})
    if not floor.get("latency", {}).get("median_ms") or set(map(str, floor.get("throughput_per_s", {}))) != {
        "1",
        "4",
        "8",
    }:
        problems.append("floor figures missing")
    transitions = results["sections"].get("transitions", {})
    if len(transitions) < 10 or not all(t.get("statements") and t.get("x_floor") for t in transitions.values()):
        problems.append("transition figures missing")
    # Where a call's time goes: its CPU here and in PostgreSQL (the server's is None only on another host).
    if not all(t.get("cpu_ms", {}).get("client") for t in [floor.get("latency", {}), *transitions.values()]):
        problems.append("CPU per call missing")
    # The WAL each call writes: every call writes at least its commit record.
    if not all(t.get("wal_bytes", 0) > 0 for t in [floor.get("latency", {}), *transitions.values()]):
        problems.append("WAL per call missing")
    concurrency = results["sections"].get("concurrency", {})
    for key in ("distinct_1", "distinct_4", "distinct_8", "overlapping_8"):
        if not concurrency.get(key, {}).get("transitions_per_s") or "cpu_ms_per_attempt" not in concurrency.get(
            key, {}
        ):
            problems.append(f"concurrency {key} missing")
    lifecycle = results["sections"].get("lifecycle", {})
    if not lifecycle.get("parcours", {}).get("lifecycles_per_s") or not lifecycle.get("x_spiff"):
        problems.append("lifecycle figures missing")
    pages = results["sections"].get("pages", {})
    if len(pages) < 2 or any(not REQUIRED_PAGES <= set(figures) for figures in pages.values()):
        problems.append("page figures missing")
    verify = results["sections"].get("verify", {})
    if len(verify) < 2 or any(not run.get("events_per_s") or not run.get("ok") for run in verify.values()):
        problems.append("verify_journal figures missing or the generated journal does not verify")
    websocket = results["sections"].get("websocket", {})
    if not websocket.get("delivered"):
        problems.append("websocket figures missing")
    if problems:
        print("bench-smoke: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)
    print(f"bench-smoke: every figure produced ({len(transitions)} transitions, {len(pages)} sizes).")


if __name__ == "__main__":
    main(sys.argv[1])
