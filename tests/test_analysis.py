"""Verdicts, diagnoses, references, Findings and the regression gate (orintui/analysis), on real
sessions: the bundled H100 sessions and a CPU session recorded here. Where a rule needs a case the
real sessions lack, the case is derived from a real session's telemetry and the test says how."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import FIXTURES

from orintui.analysis import diagnosis as dg
from orintui.analysis.findings import session_findings
from orintui.analysis.gate import check
from orintui.analysis.references import load_references, nearest, parse_references, run_conditions
from orintui.analysis.stats import RatioInterval, block_bootstrap_ratio, fieller_ratio, repetitions_needed, t_cdf, t_quantile
from orintui.analysis.verdicts import FASTER, SAME, UNSURE, compared_pairs, verdict
from orintui.cli import main
from orintui.core.paths import bundled_dir
from orintui.figures.metrics import session_metrics
from orintui.reading.report import render_report
from orintui.session import load_session, save_session
from orintui.sharing.compare import render_compare

H100_BEAM = bundled_dir("data") / "nvidia-gpu-beam-session.json.gz"
H100 = bundled_dir("data") / "demo-session.json.gz"  # tinygrad NV (failed), CUDA, llama.cpp CUDA, llama-bench
CPU_REPS = FIXTURES / "sessions" / "cpu-repetitions.json.gz"  # recorded here: llama.cpp and tinygrad on CPU, repeated


def by_label(session):
    return {m.label: m for m in session_metrics(session) if m.ranks}


# -- statistics against published values ---------------------------------------------------------
@pytest.mark.parametrize(("p", "df", "table"), [
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 5, 2.571), (0.975, 10, 2.228), (0.975, 30, 2.042),
    (0.95, 10, 1.812), (0.995, 5, 4.032), (0.975, 1e9, 1.960), (0.025, 10, -2.228)])
def test_t_quantiles_match_published_tables(p, df, table):
    assert t_quantile(p, df) == pytest.approx(table, abs=1e-3)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)


def test_fieller_reduces_to_a_t_interval_when_the_denominator_is_exact():
    # b has no spread: the interval is (mean_a +- t(0.975, 3) x se_a) / mean_b, t = 3.182 from the table
    iv = fieller_ratio([10.0, 12.0, 11.0, 13.0], [5.0, 5.0])
    se = (1.6666666666666667 / 4) ** 0.5
    assert iv.ratio == pytest.approx(2.3)
    assert iv.lo == pytest.approx((11.5 - 3.182 * se) / 5, abs=1e-3)
    assert iv.hi == pytest.approx((11.5 + 3.182 * se) / 5, abs=1e-3)


def test_fieller_is_unbounded_when_the_denominator_is_not_told_from_zero():
    iv = fieller_ratio([10.0, 11.0, 12.0], [0.1, 5.0, -4.0])
    assert iv.lo is None and iv.hi is None


def test_block_bootstrap_is_repeatable_and_brackets_its_estimate():
    a = [1.0 + 0.1 * (i % 7) for i in range(60)]
    b = [2.0 + 0.1 * (i % 5) for i in range(60)]
    first, second = block_bootstrap_ratio(a, b), block_bootstrap_ratio(a, b)
    assert first == second
    assert first.lo < first.ratio < first.hi and first.method == "block bootstrap"


def test_the_vectorised_bootstrap_keeps_the_intervals_it_gave_before():
    """Worked out by the pure-Python bootstrap before the resampling moved to numpy (its results,
    kept to the last bit: the same session's verdicts do not move)."""
    import random

    a = [1.0 + 0.1 * (i % 7) for i in range(60)]
    b = [2.0 + 0.1 * (i % 5) for i in range(60)]
    assert block_bootstrap_ratio(a, b) == RatioInterval(0.5863636363636363, 0.5670712089880173, 0.6114555680117424,
                                                        "block bootstrap")
    r = random.Random(3)
    a = [10 + r.gauss(0, 1) + (i // 500) * 0.01 for i in range(3000)]
    b = [10.2 + r.gauss(0, 1) for i in range(2500)]
    assert block_bootstrap_ratio(a, b) == RatioInterval(0.9796017656855202, 0.9742655961853343, 0.9843117067899392,
                                                        "block bootstrap")


@pytest.mark.parametrize("n_a,n_b", [(2, 2), (10, 13), (63, 64), (65, 1000), (4097, 999), (5000, 3)])
def test_the_vectorised_bootstrap_draws_what_the_reference_draws(n_a, n_b, monkeypatch):
    """Every resampled ratio, bit for bit, against the one-randrange-a-block reference: lengths whose
    start count sits just above or below a power of two (half the words or almost none rejected),
    a last short block or none; then in batches of one resample, each short of words so it draws more."""
    import random

    from orintui.analysis import stats

    r = random.Random(n_a * 7919 + n_b)
    a = [r.lognormvariate(0, 0.3) for _ in range(n_a)]
    b = [r.expovariate(1.0) for _ in range(n_b)]
    sides = stats._Blocks.of(a), stats._Blocks.of(b)
    reference = stats._resampled_ratios_python(*sides, 300, random.Random(11))
    assert stats._resampled_ratios_numpy(*sides, 300, random.Random(11)) == reference
    monkeypatch.setattr(stats, "WORDS_PER_BATCH", 1)
    monkeypatch.setattr(stats, "WORDS_MARGIN", 0.5)
    assert stats._resampled_ratios_numpy(*sides, 300, random.Random(11)) == reference


def test_repetitions_needed_by_hand():
    # cv 5 % each, 5 % to resolve: t(0.975, 2n-2) x sqrt(0.005 / n) < 0.05 first holds at n = 9 (2.120 / 3)
    assert repetitions_needed(0.05, 0.05, 0.05) == 9
    assert repetitions_needed(0.5, 0.5, 0.001, cap=50) is None


# -- verdicts ---------------------------------------------------------------------------------
def test_verdict_faster_over_repetitions_llama_bench():
    s = load_session(H100)
    v = verdict(s, session_metrics(s), "llama-bench fa on", "llama-bench fa off")
    assert v.kind == FASTER and v.method == "Fieller" and (v.n_a, v.n_b) == (3, 3)
    assert v.ratio == pytest.approx(704.047 / 608.488, rel=1e-4)
    assert 1.0 < v.lo < v.ratio < v.hi
    assert v.text.startswith("llama-bench fa on is 15.7 % faster than llama-bench fa off (95 % interval")


def test_verdict_single_runs_uses_tokens_and_says_they_are_not_repetitions():
    s = load_session(H100)
    v = verdict(s, session_metrics(s), "tinygrad CUDA", "llama.cpp CUDA")
    assert v.kind == FASTER and v.method == "block bootstrap" and v.ratio < 0.1
    assert "llama.cpp CUDA is" in v.text and "x as fast as tinygrad CUDA" in v.text
    assert "not independent repetitions" in v.caveat


def test_verdict_no_difference_we_can_detect():
    # llama-bench's three tg128 repetitions against themselves: the ratio is 1 with a narrow interval
    s = load_session(H100)
    v = verdict(s, session_metrics(s), "llama-bench fa on", "llama-bench fa on")
    assert v.kind == SAME and "no difference we can detect" in v.text and v.lo < 1.0 < v.hi


def test_verdict_not_enough_when_one_side_has_a_single_run():
    s = load_session(H100)
    v = verdict(s, session_metrics(s), "llama.cpp CUDA", "llama-bench fa on")
    assert v.kind == UNSURE and "not enough repetitions to say" in v.text and "llama.cpp CUDA has 1 repetition" in v.text


def test_verdict_not_enough_over_noisy_repetitions_says_how_many():
    # derived from the real H100 llama-bench rows: fa on's samples spread out (each moved by +-8 %)
    s = load_session(H100)
    for e in s.events:
        if e.get("bench") and e.get("flash_attn") == 1 and e.get("n_gen"):
            e["samples_ts"] = [x * f for x, f in zip(e["samples_ts"], (0.92, 1.0, 1.08))]
    v = verdict(s, session_metrics(s), "llama-bench fa on", "llama-bench fa off")
    assert v.kind == UNSURE and v.needed and v.needed > 3
    assert f"about {v.needed} repetitions each" in v.text


def test_scenario_names_the_pairs_to_compare():
    s = load_session(H100)
    metrics = session_metrics(s)
    assert len(compared_pairs(s, metrics)) == 6  # every pair of the four measured labels
    s.scenario["compare"] = [["tinygrad CUDA", "llama.cpp CUDA"]]
    assert compared_pairs(s, metrics) == [("tinygrad CUDA", "llama.cpp CUDA")]


def test_a_sweep_compares_each_label_with_the_fastest():
    # the real CPU session's runs relabelled as if each repetition were a sweep cell: 12 measured labels
    s = load_session(CPU_REPS)
    for r in s.runs:
        r.label = f"{r.label} cell {r.repetition}"
    pairs = compared_pairs(s, session_metrics(s))
    assert len(pairs) == 11 and len({a for a, _ in pairs}) == 1


# -- diagnosis: each rule on a case that triggers it and one that must not -------------------------
def codes(session, label):
    m = by_label(session)[label]
    return {f.code for f in dg.diagnose(session, m).findings}


def decode_window(session, label):
    m = by_label(session)[label]
    tokens = [e for e in session.run_events(m.run) if e["kind"] == "token"][m.warmup_tokens:]
    return [e for e in session.events if e["kind"] == "telemetry" and tokens[0]["t"] <= e["t"] <= tokens[-1]["t"]]


def test_kernel_bound_and_warmup_dominated_on_the_real_tinygrad_cuda_run():
    s = load_session(H100)
    d = dg.diagnose(s, by_label(s)["tinygrad CUDA"])
    assert {f.code for f in d.findings} == {"kernel-bound", "warmup-dominated"}
    assert "2.5 % of the 3352.3 GB/s peak" in d.bottleneck.text and "busy 91 %" in d.bottleneck.text


def test_launch_bound_when_gpu_load_oscillates():
    # derived: the real tinygrad CUDA run's GPU load replaced by an alternating 20 / 95 % pattern
    s = load_session(H100)
    for i, e in enumerate(decode_window(s, "tinygrad CUDA")):
        e["gpu_load_pct"] = 20.0 if i % 2 else 95.0
    assert "launch-bound" in codes(s, "tinygrad CUDA") and "kernel-bound" not in codes(s, "tinygrad CUDA")


def test_bandwidth_bound_only_near_the_peak():
    s = load_session(H100)
    assert "bandwidth-bound" not in codes(s, "llama-bench fa on")  # 52 % of the H100's 3352 GB/s
    # derived: the same run as if on a device with 2,000 GB/s peak (87 % of it)
    s.host["peak_bandwidth_gbs"] = 2000.0
    d = dg.diagnose(s, by_label(s)["llama-bench fa on"])
    assert d.bottleneck.code == "bandwidth-bound" and "of the 2000 GB/s peak" in d.bottleneck.text
    s.host["peak_bandwidth_gbs"] = 1000.0  # above the peak: a wrong peak or model size, never a verdict
    assert "bandwidth-bound" not in codes(s, "llama-bench fa on")


def test_cpu_fallback_when_tokens_flow_with_the_gpu_idle():
    s = load_session(H100)
    assert "cpu-fallback" not in codes(s, "tinygrad CUDA")
    for e in decode_window(s, "tinygrad CUDA"):  # derived: GPU load of the real run set to 0-2 %
        e["gpu_load_pct"] = 2.0 if e["t"] % 2 > 1 else 0.0
    d = dg.diagnose(s, by_label(s)["tinygrad CUDA"])
    assert d.bottleneck.code == "cpu-fallback" and "asked for a GPU" in d.bottleneck.text


def test_throttled_when_clock_falls_while_temperature_rises():
    s = load_session(H100)
    assert "throttled" not in codes(s, "tinygrad CUDA")
    window = decode_window(s, "tinygrad CUDA")
    for i, e in enumerate(window):  # derived: the second half at 1,500 MHz, the GPU warming 35 -> 55 C
        e["temp_c"] = {"GPU": 35.0 + 20.0 * i / len(window)}
        if i > len(window) // 2:
            e["gpu_freq_mhz"] = 1500.0
    d = dg.diagnose(s, by_label(s)["tinygrad CUDA"])
    assert "throttled" in {f.code for f in d.findings}
    assert "from 1980 to 1500 MHz" in next(f.text for f in d.findings if f.code == "throttled")
    for e in window:  # clocks falling with a steady temperature: DVFS, not throttling
        e["temp_c"] = {"GPU": 40.0}
    assert "throttled" not in codes(s, "tinygrad CUDA")


def test_warmup_not_dominant_for_a_long_llama_cpp_cpu_run():
    s = load_session(FIXTURES / "sessions" / "demo-cpu.json")
    assert "warmup-dominated" in codes(s, "tinygrad CPU")
    assert "warmup-dominated" not in codes(s, "llama.cpp CPU")


def test_no_gpu_verdict_without_gpu_telemetry():
    s = load_session(FIXTURES / "sessions" / "demo-cpu.json")
    d = dg.diagnose(s, by_label(s)["llama.cpp CPU"])
    assert not d.findings
    assert any("GPU rules not applied" in x and "psutil" in x for x in d.not_judged)
    assert any("peak bandwidth is unknown" in x for x in d.not_judged)
    beam = load_session(H100_BEAM)  # one NVML sample inside a 0.35 s decode: too few to judge the GPU
    d = dg.diagnose(beam, by_label(beam)["tinygrad CUDA JITBEAM"])
    assert {f.code for f in d.findings} == {"warmup-dominated"}
    assert any("1 GPU load sample(s)" in x for x in d.not_judged)


# -- references ---------------------------------------------------------------------------------
def test_bundled_references_load_and_the_nearest_names_what_differs():
    refs, problems = load_references()
    assert not problems and len(refs) == 15
    assert {r.value for r in refs} >= {25.59, 27.80, 7.59, 7.44, 11.09, 11.98, 2.95, 2.93, 36.71, 52.58, 65.83, 43.07}
    s = load_session(H100)
    m = by_label(s)["tinygrad CUDA"]
    run = next(r for r in s.runs if r.index == m.run)
    match = nearest(run_conditions(s, m, run), m.decode, refs)
    assert match.reference.value == 7.44
    assert match.differs == ["quantisation (F16 here, Q6_K there)", "board (NVIDIA H100 80GB HBM3 here, Jetson AGX Orin 64GB there)"]


def test_user_references_are_added_and_hostile_rows_left_out(orintui_home):
    folder = orintui_home / "config"
    folder.mkdir(parents=True)
    (folder / "references.toml").write_text(
        '[[reference]]\nboard = "NVIDIA H100 80GB HBM3"\nbackend = "tinygrad CUDA"\nmodel = "Llama 3.2 1B"\n'
        'quant = "F16"\nvalue = 35.0\nsource = "my lab \\u001b[31mnotes"\n'
        '[[reference]]\nvalue = -3\nsource = "x"\n'
        '[[reference]]\nvalue = 3\nsource = "x"\nrm = "-rf"\n')
    refs, problems = load_references()
    assert len(refs) == 16 and len(problems) == 2
    assert "row 2 left out: value must be a positive number" in problems[0] and "unknown key 'rm'" in problems[1]
    s = load_session(H100)
    found = dict(session_findings(s, refs=refs).references)
    assert found["tinygrad CUDA"].reference.origin == "user" and found["tinygrad CUDA"].differs == []
    text = "\n".join(session_findings(s, refs=refs).sentences())
    assert "\x1b" not in text and "my lab" in text
    (folder / "references.toml").write_text("[[reference]\nnot toml")
    refs, problems = load_references()
    assert len(refs) == 15 and problems[0].startswith("user references: not valid TOML")


def test_parse_references_refuses_wrong_types():
    refs, problems = parse_references('[[reference]]\nvalue = 1.0\nsource = "s"\noutput_tokens = "many"\n', "user")
    assert not refs and "output_tokens must be a positive whole number" in problems[0]


# -- Findings in the report, JSON and compare ----------------------------------------------------
def test_report_findings_above_the_table_for_the_h100_session():
    text = render_report([load_session(H100)])
    head, table = text.split("| Backend |", 1)
    assert "Findings:" in head
    assert "- NV vs CUDA: not answered: tinygrad NV failed (exit code 1: StopIteration)." in head
    assert "- tinygrad vs llama.cpp: tinygrad CUDA decodes at 0.060x the rate of llama.cpp CUDA" in head
    assert "- Bottleneck of tinygrad CUDA: kernel-bound" in head
    doc = json.loads(render_report([load_session(H100)], "json"))
    f = doc["findings"][0]
    assert f["session"] == "20261120-233840-78b2db"
    assert f["nv_vs_cuda"].startswith("NV vs CUDA: not answered") and f["verdicts"] and f["diagnoses"]


def test_findings_with_repetitions_recorded_here():
    s = load_session(CPU_REPS)
    f = session_findings(s)
    assert f.tinygrad_vs_llama and "Fieller" in f.tinygrad_vs_llama and "x the rate of llama.cpp CPU" in f.tinygrad_vs_llama
    assert all(v.method in ("Fieller", None) for v in f.verdicts)


def test_compare_states_the_change_per_label():
    a = load_session(H100)
    text = render_compare([a, load_session(H100)])
    assert "Findings (decode rate against A):" in text
    assert "llama-bench fa on in B vs llama-bench fa on in A: no difference we can detect" in text


# -- the regression gate ------------------------------------------------------------------------
def slowed(session, label, factor):
    """A copy of a real session with one label's decode slowed by ``factor`` (token ms and times)."""
    s = copy.deepcopy(session)
    runs = {m.run for m in session_metrics(s) if m.label == label}
    for run in runs:
        tokens = [e for e in s.events if e["kind"] == "token" and e["run"] == run]
        t0 = tokens[0]["t"]
        for e in tokens:
            e["t"] = t0 + (e["t"] - t0) * factor
            if e.get("ms"):
                e["ms"] *= factor
    return s


def test_gate_exit_codes(tmp_path, capsys):
    a = save_session(load_session(H100), tmp_path / "a.json")
    b = save_session(slowed(load_session(H100), "tinygrad CUDA", 1.25), tmp_path / "b.json")
    assert main(["compare", str(a), str(a), "--fail-on-regression"]) == 0
    assert "orintui: no regression" in capsys.readouterr().err
    assert main(["compare", str(a), str(b), "--fail-on-regression", "--metric", "decode,ttft"]) == 1
    err = capsys.readouterr().err
    assert "REGRESSION tinygrad CUDA decode tok/s" in err and "beyond the spread" in err
    assert "not judged llama.cpp CUDA TTFT ms" in err  # a single run's TTFT has no spread: reported, never failed
    assert main(["compare", str(a), str(b), "--fail-on-regression", "--threshold", "30"]) == 0
    assert "within the 30 % threshold" in capsys.readouterr().err
    assert main(["compare", str(a), str(b), "--fail-on-regression", "--metric", "speed"]) == 2
    assert "--metric: unknown speed" in capsys.readouterr().err
    assert main(["compare", str(a), str(b), "--threshold", "5"]) == 2
    assert main(["compare", str(a), str(b), "--fail-on-regression", "--threshold", "-1"]) == 2


def test_gate_within_spread_is_not_a_regression():
    # derived from the real CPU session: B's repetitions are A's, so any change is inside the spread
    s = load_session(CPU_REPS)
    checks = check(s, copy.deepcopy(s), ["decode"], 0.0)
    assert checks and not any(c.regressed for c in checks)
    a = load_session(H100)
    gone = copy.deepcopy(a)
    for r in gone.runs:
        if r.label == "llama.cpp CUDA":
            r.status = "failed"
    assert [c.text for c in check(a, gone) if c.regressed] == ["REGRESSION llama.cpp CUDA: complete in A, failed in B"]


def test_scenario_compare_pairs_are_checked(tmp_path):
    from orintui.config.scenarios import ScenarioError, parse_scenario

    run = '[[runs]]\nlabel = "{}"\nbackend = "llama-completion"\nargv = ["x"]\n'
    base = run.format("a") + run.format("b")
    s = parse_scenario('name = "t"\ncompare = [["a", "b"]]\n' + base, "t.toml")
    assert s.compare == [["a", "b"]] and s.to_dict()["compare"] == [["a", "b"]]
    with pytest.raises(ScenarioError, match="compare names 'c', which is no run's label"):
        parse_scenario('name = "t"\ncompare = [["a", "c"]]\n' + base, "t.toml")
    with pytest.raises(ScenarioError, match="two different labels"):
        parse_scenario('name = "t"\ncompare = [["a", "a"]]\n' + base, "t.toml")


async def test_findings_pane_in_the_app():
    from textual.widgets import ContentSwitcher, Static

    from orintui.tui.app import make_app

    app = make_app(replay=load_session(H100), at=30.0, paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f")
        assert app.screen.query_one(ContentSwitcher).current == "findings"
        pane = app.screen.query_one("#findings-text", Static)
        while str(pane.render()).startswith("working out"):  # worked out in a worker (test_tui_workers.py)
            await pilot.pause(0.05)
        shown = str(pane.render())
        assert shown.startswith("Findings for the whole recorded session (5 of 5 runs ended)")
        assert "- NV vs CUDA: not answered: tinygrad NV failed (exit code 1: StopIteration)." in shown
        assert "- Bottleneck of tinygrad CUDA: kernel-bound" in shown
        await pilot.press("t")  # back to the table
        await pilot.pause()
        assert app.screen.query_one(ContentSwitcher).current == "table"


def test_headless_end_summary_has_findings(llama_bin, small_model, tmp_path):
    """A real run: two llama.cpp labels on CPU, three repetitions each; the summary after the runs
    carries the Findings above the table (their verdict varies with this shared machine's load)."""
    from conftest import run_cli

    run = ('[[runs]]\nlabel = "{label}"\nbackend = "llama-completion"\nrepetitions = 3\n'
           'argv = ["{bin}/llama-completion", "-m", "{model}", "-p", "Hello", "-n", "24", "--ignore-eos", "-no-cnv",'
           ' "--temp", "0", "-t", "{threads}"]\n')
    text = 'name = "two-llamas"\ncompare = [["llama.cpp 1 thread", "llama.cpp 2 threads"]]\n' + "".join(
        run.format(label=label, bin=llama_bin, model=small_model, threads=n)
        for label, n in (("llama.cpp 1 thread", 1), ("llama.cpp 2 threads", 2)))
    (tmp_path / "two.toml").write_text(text)
    r = run_cli("run", str(tmp_path / "two.toml"), "--headless", "--telemetry", "none", "--out", str(tmp_path / "s.json"),
                timeout=300)
    summary = r.stdout[r.stdout.index("Findings:"):]
    assert summary.index("Findings:") < summary.index("| Backend |")
    verdict = next(line for line in summary.splitlines() if "llama.cpp 1 thread" in line and "llama.cpp 2 threads" in line)
    assert any(kind in verdict for kind in ("% faster than", "x as fast as", "no difference we can detect",
                                            "not enough repetitions to say"))
    assert "repetitions, Fieller" in verdict or "repetition(s)" in verdict  # partial runs may leave one
    assert "- Bottleneck of llama.cpp 1 thread: not diagnosed (GPU rules not applied" in summary
