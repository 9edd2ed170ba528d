"""``benchmarks/scale.py`` combines a size's repeated fresh-process runs as its report says: per stage the fastest
wall time with that run's CPU times, every wall time kept, the largest peak; per reference the fastest timing."""

from __future__ import annotations

import pytest
from _scripts import ROOT, load_script


SCALE = load_script("benchmarks/scale.py", "scale_bench")


def _result(parse_s, parse_user, parse_peak, ref_times):
    return {"nets": 10, "max_rss_bytes": int(parse_peak * 2), "records": [
        {"stage": "spef_parse", "items": 10, "seconds": parse_s, "items_per_s": 10 / parse_s,
         "peak_rss_bytes": parse_peak, "output_bytes": 100, "memory_ratio": parse_peak / 100,
         "cpu_user_s": parse_user, "cpu_sys_s": 0.1, "minor_faults": 5},
        {"reference": "gzip_spef", "items": 10, "seconds": min(ref_times), "seconds_all": ref_times,
         "items_per_s": 10 / min(ref_times), "mb_per_s": 1.0 / min(ref_times)}]}


def test_fastest_run_kept_with_its_cpu_times_and_the_largest_peak():
    merged = SCALE.fastest_of([_result(3.0, 2.5, 400, [0.4, 0.5]), _result(2.0, 1.9, 300, [0.3, 0.6]),
                               _result(2.5, 2.2, 500, [0.35, 0.45])])
    stage, ref = merged["records"]
    assert stage["seconds"] == 2.0 and stage["cpu_user_s"] == 1.9
    assert sorted(stage["seconds_all"]) == [2.0, 2.5, 3.0] and stage["runs"] == 3
    assert stage["peak_rss_bytes"] == 500 and stage["memory_ratio"] == pytest.approx(5.0)
    assert ref["seconds"] == 0.3 and ref["mb_per_s"] == pytest.approx(1 / 0.3) and len(ref["seconds_all"]) == 6
    assert merged["max_rss_bytes"] == 1000

    summary = SCALE.summarise([{"path": "circuits", "size": 10, **merged}])["circuits"]
    assert summary["spef_parse"]["timings"] == 3 and summary["spef_parse"]["spread"] == pytest.approx(1.5)
    assert summary["spef_parse"]["cpu"]["10"][0] == 1.9


def test_one_run_is_returned_unchanged_and_mismatched_runs_are_refused():
    one = _result(1.0, 0.9, 10, [0.1])
    assert SCALE.fastest_of([one]) is one
    other = _result(1.0, 0.9, 10, [0.1])
    other["records"][0]["stage"] = "verilog_parse"
    with pytest.raises(ValueError, match="different stages"):
        SCALE.fastest_of([one, other])


def test_readme_row_is_the_one_the_stored_results_write():
    import json

    report = json.loads((ROOT / "benchmarks" / "results" / "scale.json").read_text())
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith(SCALE.README_ROW)]
    assert rows == [SCALE.readme_row(report)], "rerun: python benchmarks/scale.py --from-json ... --readme"
