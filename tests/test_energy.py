"""The energy ledger against hand-computed values: prefill and decode energy, the idle baseline,
marginal J/token, tokens per joule, llama-bench per-test J/token, and n/a (never 0) with a reason."""

from __future__ import annotations

import pytest

from orintui.figures.metrics import idle_power_w, run_metrics, window_energy
from orintui.session import events as ev
from orintui.session.model import RunInfo, Session

# power (t, W): idle 5 W to t=10.5, 25 W prefill 11.0-11.5, 15 W decode 12.0-14.0, 5 W at 14.5, then 10 W
POWER = ([(6.0 + 0.5 * k, 5.0) for k in range(10)] + [(11.0, 25.0), (11.5, 25.0)]
         + [(12.0 + 0.5 * k, 15.0) for k in range(5)] + [(14.5, 5.0)] + [(15.0 + 0.5 * k, 10.0) for k in range(11)])


def session(power=POWER, label="VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0"):
    runs = [RunInfo(index=0, label="completion", backend="llama-completion", argv=["x"], status="ok"),
            RunInfo(index=1, label="bench", backend="llama-bench", argv=["x"], status="ok")]
    events = [ev.make(ev.RUN_STARTED, 10.0, 0), {**ev.phase(11.0, "prefill"), "run": 0},
              ev.make(ev.PREFILL, 11.5, 0, tokens=100, ms=500.0),
              {**ev.token(11.5, "a", warmup=True), "run": 0}]
    events += [{**ev.token(12.0 + 0.5 * k, "b"), "run": 0} for k in range(5)]
    events += [ev.make(ev.RUN_ENDED, 14.1, 0, status="ok"), ev.make(ev.RUN_STARTED, 14.2, 1),
               {**ev.summary(17.0, bench=True, test="pp100", n_prompt=100, n_gen=0, avg_ts=50.0,
                             samples_ts=[50.0, 50.0]), "run": 1},
               {**ev.summary(19.0, bench=True, test="tg50", n_prompt=0, n_gen=50, avg_ts=25.0,
                             samples_ts=[25.0, 25.0]), "run": 1},
               ev.make(ev.RUN_ENDED, 19.5, 1, status="ok")]
    events += [ev.make(ev.TELEMETRY, t, None, power_total_mw=w * 1000, power_total_label="sum of " + label)
               for t, w in power]
    events.sort(key=lambda e: e["t"])
    s = Session(id="e", started_at="2026-01-01T00:00:00", host={}, runs=runs, events=events)
    for e in events:
        s.apply(e)
    return s


def test_prefill_decode_idle_and_marginal_by_hand():
    m = run_metrics(session(), session().runs[0])
    # prefill 11.0-11.5 s at 25 W: 12.5 J over 100 prompt tokens
    assert m.prefill_energy_j == pytest.approx(12.5) and m.prefill_j_per_token == pytest.approx(0.125)
    assert m.prefill_avg_power_w == pytest.approx(25.0)
    # decode 12.0-14.0 s at 15 W: 30 J over the 4 tokens that arrived inside the window
    assert m.decode_energy_j == pytest.approx(30.0) and m.avg_power_w == pytest.approx(15.0)
    assert m.energy_j_per_token == pytest.approx(7.5) and m.tokens_per_joule == pytest.approx(4 / 30)
    # idle: 7.0-10.0 s at 5 W; marginal = (30 J - 5 W x 2 s) / 4 tokens
    assert m.idle_power_w == pytest.approx(5.0) and m.marginal_j_per_token == pytest.approx(5.0)
    assert m.power_label == "sum of VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0" and m.energy_na == {}


def test_llama_bench_per_test_windows_by_hand():
    s = session()
    m = run_metrics(s, s.runs[1])
    pp, tg = m.bench
    # pp100 x 2 reps, window 14.2-17.0: 14.2 interpolates to 11 W (15 -> 5 W over 14.0-14.5);
    # 0.3 x (11+5)/2 + 0.5 x (5+10)/2 + 2.0 x 10 = 2.4 + 3.75 + 20 = 26.15 J over 200 tokens
    assert pp["energy_j"] == pytest.approx(26.15) and pp["j_per_token"] == pytest.approx(26.15 / 200)
    assert pp["tokens_per_j"] == pytest.approx(200 / 26.15)
    # tg50 x 2 reps, window 17.0-19.0 at 10 W: 20 J over 100 tokens
    assert tg["energy_j"] == pytest.approx(20.0) and tg["j_per_token"] == pytest.approx(0.2)
    # run 1 started 0.1 s after run 0 ended: no idle baseline, said so
    assert m.idle_power_w is None and "previous run ended" in m.energy_na["idle"]


def test_uncovered_windows_are_na_with_a_reason_never_zero():
    s = session(power=[(t, w) for t, w in POWER if t <= 13.0])  # the source died at 13 s
    m = run_metrics(s, s.runs[0])
    assert m.energy_j_per_token is None and m.tokens_per_joule is None and m.marginal_j_per_token is None
    assert "not covered" in m.energy_na["decode"] and m.prefill_energy_j == pytest.approx(12.5)
    tg = run_metrics(s, s.runs[1]).bench[1]
    assert tg["energy_j"] is None and "not covered" in tg["energy_na"]
    none = session(power=[])
    m = run_metrics(none, none.runs[0])
    assert m.decode_energy_j is None and "no power samples" in m.energy_na["decode"]


def test_helpers_by_hand():
    samples = [(0.0, 4.0), (1.0, 6.0), (2.0, 6.0)]
    d, why = window_energy(samples, 0.5, 2.0, 3)
    assert why is None and d["energy_j"] == pytest.approx(0.5 * (5 + 6) / 2 + 6.0)  # 8.75 J
    assert d["j_per_token"] == pytest.approx(8.75 / 3) and d["avg_w"] == pytest.approx(8.75 / 1.5)
    d, why = window_energy(samples, 0.5, 2.0, None)
    assert d["energy_j"] == pytest.approx(8.75) and d["j_per_token"] is None and why == "no token count for this window"
    assert idle_power_w(samples, 2.0) == (pytest.approx(5.5), None)  # (5 + 6) / 2 W over 2 s
    w, why = idle_power_w(samples, 2.0, not_before=1.5)
    assert w is None and "1 power sample(s) in the 0.5 s" in why


def test_report_carries_device_line_energy_and_decode_telemetry():
    from orintui.reading.report import render_report
    from orintui.sharing.compare import render_compare

    s = session()
    s.host.update({"model": "NVIDIA Jetson AGX Orin Developer Kit", "nvpmodel": "MAXN", "jetson_clocks": "OFF",
                   "gpu_max_mhz": 1301, "emc_max_mhz": 3199, "profile_from": "device tree model"})
    for e in s.events:
        if e["kind"] == "telemetry" and 12.0 <= e["t"] <= 14.0:
            e.update(gpu_freq_mhz=1300.0, gpu_load_pct=90.0, emc_util_pct=41.0, temp_c={"tj": 60.0 + e["t"]},
                     throttled=False)
    text = render_report([s])
    assert ("Device: power mode MAXN, clocks NOT locked, max GPU 1,301 MHz, max EMC 3,199 MHz, "
            "board from device tree model") in text
    assert "7.5000 |" in text and "0.13 tok/J" in text and "prefill 0.1250 J/token at 25.0 W" in text
    assert "idle 5.0 W" in text and "marginal 5.0000 J/token above idle" in text
    assert "decode: GPU 1,300 MHz, GPU load 90%, EMC 41%, peak 74.0 C, no throttling seen" in text
    assert "pp100 50.00 t/s 0.1308 J/token" in text
    compared = render_compare([s, s])
    assert "| tok/J | marginal J/token |" in compared
    assert "0.13 (= 1.00x within 10%)" in compared


def test_max_clocks_from_sysfs_under_a_root(tmp_path):
    from orintui.telemetry.profiles import emc_max_mhz, gpu_max_mhz

    assert gpu_max_mhz(tmp_path) is None and emc_max_mhz(tmp_path) is None  # masked: n/a, not 0
    (tmp_path / "sys/class/devfreq/17000000.gpu").mkdir(parents=True)
    (tmp_path / "sys/class/devfreq/17000000.gpu/max_freq").write_text("1300500000\n")
    (tmp_path / "sys/class/devfreq/bwmgr").mkdir()
    (tmp_path / "sys/class/devfreq/bwmgr/max_freq").write_text("4266000000\n")
    assert gpu_max_mhz(tmp_path) == 1300 and emc_max_mhz(tmp_path) == 4266


def test_monitor_title_shows_power_mode_and_unlocked_clocks_in_warning_colour():
    from orintui.tui.screens.monitor import MonitorScreen

    s = session()
    s.host.update({"model": "NVIDIA Jetson AGX Orin Developer Kit", "nvpmodel": "MAXN", "jetson_clocks": "OFF"})
    title = MonitorScreen(s).title_text()
    assert title.plain.endswith("|  MAXN, clocks NOT locked")
    assert any(str(span.style) == "bold yellow" and title.plain[span.start:span.end] == "clocks NOT locked"
               for span in title.spans)
    s.host.update({"jetson_clocks": "ON"})
    assert MonitorScreen(s).title_text().plain.endswith("MAXN, clocks locked")
    s.host.pop("nvpmodel"), s.host.pop("jetson_clocks")
    assert "clocks" not in MonitorScreen(s).title_text().plain  # not a Jetson: nothing claimed
