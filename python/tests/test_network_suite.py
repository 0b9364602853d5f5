"""The network benchmark suite's own machinery (benches/network): the
emulated link really delays and shapes traffic, and the report and the
regression check read results right. The suite itself runs in `make bench`."""

import copy
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benches", "network"))
import netns  # noqa: E402
import report  # noqa: E402


def result(profile, workload, baseline, seconds, bytes_=None, round_trips=None, check=(1, 2, 3)):
    return {"profile": profile, "workload": workload, "baseline": baseline, "unit": "tokens", "per_call": 1, "runs": 5,
            "seconds": seconds, "seconds_min": seconds * 0.9, "seconds_max": seconds * 1.1, "bytes": bytes_,
            "round_trips": round_trips, "check": list(check), "wall_seconds": 1.0}


def suite_doc():
    w = report.GOAL_WORKLOAD
    p = report.GOAL_PROFILE
    return {
        "meta": {"date": "2026-11-26T00:00:00+00:00", "plan": "quick", "reps": 5, "decode_steps_per_run": 8, "emulated": True,
                 "not_emulated_because": None, "links": {p: {"rtt_us": 70.0, "throughput_mib_s": 700.0}}, "machine": "test",
                 "commit": "abc", "suite_seconds": 60},
        "results": [
            result("local", w, "eager", 0.050),
            result(p, w, "genie", 0.055, 900, 2.0),
            result(p, w, "stateless", 0.300, 150e6, 1.0),
            result(p, w, "op_by_op", 0.200, 1e5, 545.0),
            result(p, w, "rpc", 0.070, 3000, 1.0, check=(1, 2, 4)),
            {"profile": p, "workload": "clip", "baseline": "genie", "error": "exit status 1: boom"},
        ],
    }


def test_report_states_each_goal_from_the_figures():
    rows = {r[0]: r for r in report.goals(suite_doc())}
    assert rows["bytes/token vs stateless graph remoting"][3] == "yes"
    assert rows["round trips/token vs op-by-op remoting"][3] == "yes"
    assert rows["ms/token vs PyTorch RPC"][3] == "yes"
    assert rows["ms/token vs local eager"][3] == "yes"  # 1.10x <= 1.2x
    slow = suite_doc()
    slow["results"][1]["seconds"] = 0.080
    rows = {r[0]: r for r in report.goals(slow)}
    assert rows["ms/token vs local eager"][3] == "no" and rows["ms/token vs PyTorch RPC"][3] == "no"


def test_report_markdown_and_figures(tmp_path):
    doc_path = tmp_path / "benchmarks.md"
    doc_path.write_text("# Benchmarks\n\nhand-written part\n")
    report.write(suite_doc(), str(doc_path), str(tmp_path / "figures"))
    report.write(suite_doc(), str(doc_path), str(tmp_path / "figures"))  # replaces, not appends
    text = doc_path.read_text()
    assert text.count(report.BEGIN) == 1 and "hand-written part" in text
    assert "| PyTorch RPC |" in text and "| no |" in text  # RPC's tokens differ from eager's
    assert "failed: exit status 1: boom" in text
    assert sorted(os.listdir(tmp_path / "figures")) == sorted(f"{n}.png" for n in report.FIGURE_CAPTIONS)


def test_compare_reports_figures_more_than_ten_percent_worse():
    base = suite_doc()
    now = copy.deepcopy(base)
    now["results"][1]["seconds"] *= 1.05  # within 10%: not reported
    now["results"][2]["bytes"] *= 1.5
    now["results"][3] = {"profile": now["results"][3]["profile"], "workload": report.GOAL_WORKLOAD, "baseline": "op_by_op", "error": "timed out"}
    worse, checked = report.compare(base, now)
    assert checked > 5
    assert len(worse) == 2
    assert any("stateless: bytes" in w and "+50%" in w for w in worse)
    assert any("op_by_op: failed now (timed out)" in w for w in worse)


NETEM = os.path.join(ROOT, "target", "debug", "genie-netem")


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not os.path.exists(NETEM),
                    reason="needs root, /dev/net/tun and target/debug/genie-netem")
def test_emulated_link_adds_its_delay_and_caps_its_rate(monkeypatch):
    monkeypatch.setattr(netns, "NETEM", NETEM)
    monkeypatch.setattr(netns, "CLIENT_NS", "genie-test-cli")
    monkeypatch.setattr(netns, "SERVER_NS", "genie-test-srv")
    monkeypatch.setitem(netns.PROFILES, "open", (0, 0))  # rate 0: unlimited
    monkeypatch.setitem(netns.PROFILES, "slow", (0.4, 4000))  # 0.4 Gb/s = 47.7 MiB/s, 4 ms RTT
    with netns.Network() as net:
        with net.profile("open") as link:
            fast = netns.probe(link, pings=50, bulk_mib=8)
        with net.profile("slow") as link:
            slow = netns.probe(link, pings=20, bulk_mib=8)
    assert 4000 <= slow["rtt_us"] < 4000 + fast["rtt_us"] + 3000
    assert fast["rtt_us"] < 3000
    assert slow["throughput_mib_s"] < 47.7 * 1.1 < fast["throughput_mib_s"]
    names = os.popen("ip netns list").read()
    assert "genie-test-cli" not in names and "genie-test-srv" not in names
