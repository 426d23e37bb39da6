"""The OpenMetrics exporter, scraped by a real Prometheus (Debian's package) during a real llama.cpp
run, and the Grafana dashboard's queries checked against what a real exporter serves."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
from conftest import ROOT, llama_lost_its_tail
from prometheus_client.parser import text_string_to_metric_families

from orintui.figures.metrics import run_metrics
from orintui.session import load_session

DASHBOARD = ROOT / "grafana" / "orintui-dashboard.json"
HOSTILE_LABEL = 'llama.cpp "CPU" \\ {run="x"}'  # quotes, a backslash, braces: label values must round-trip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, what: str, timeout: float = 60.0, proc: subprocess.Popen | None = None):
    """``condition()``'s first truthy value, polled until ``timeout``; fails early when ``proc`` died."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"{what}: the process exited ({proc.returncode}) first: {out[-2000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def served(text: str) -> dict[str, str]:
    """Every sample name the exposition declares (a histogram's _bucket, _sum and _count too) -> type."""
    names = {}
    for family in text_string_to_metric_families(text):
        names[family.name] = family.type
        if family.type == "histogram":
            names.update({family.name + suffix: "histogram" for suffix in ("_bucket", "_sum", "_count")})
    return names


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


# PromQL words that are not metric names
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana label_values() query) selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)  # label matchers, ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)  # label lists
    expr = re.sub(r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)", r"\1", expr)  # Grafana: its label argument
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][\w:]*", expr):
        word = match.group()
        if word.lower() in PROMQL_WORDS or re.match(r"\s*\(", expr[match.end():]):  # a function call
            continue
        if match.start() and (expr[match.start() - 1].isdigit() or expr[match.start() - 1] == "."):
            continue  # the tail of a number (1e3)
        names.add(word)
    return names


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        query = var.get("query")
        if var.get("type") == "query":
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def as_promql(expr: str) -> str:
    """A dashboard expression as Prometheus takes it: Grafana's variables given values."""
    return expr.replace("$__rate_interval", "5s").replace("$host", ".*")


def test_metric_names_reads_promql():
    """The extractor the dashboard test relies on finds names, and only names."""
    assert metric_names('histogram_quantile(0.95, sum by (le, host) (rate(a_bucket{x=~"$h", y="b c"}[5m])))') == {"a_bucket"}
    assert metric_names("a / b + avg without (cpu) (c) * 1e3 > bool 0") == {"a", "b", "c"}
    assert metric_names("label_values(orintui_x, host)") == {"orintui_x"}


@pytest.fixture
def telemetry_exporter():
    """``orintui exporter`` on the psutil source (no Jetson here: no tegrastats, jtop or NVML)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "orintui", "exporter", "--port", str(port), "--source", "psutil",
                             "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc, f"http://127.0.0.1:{port}/metrics"
    finally:
        proc.terminate()
        proc.wait(10)


def test_exporter_serves_telemetry_alone(telemetry_exporter):
    proc, url = telemetry_exporter

    def three_samples():
        text = fetch(url)
        got = samples(text) if text else {}
        count = got.get("orintui_telemetry_samples")
        return got if count and count[0].value >= 3 else None

    got = wait_until(three_samples, "three psutil samples served", proc=proc)
    sample = got["orintui_telemetry_samples"][0]
    assert sample.labels["source"] == "psutil" and sample.labels["host"] == socket.gethostname()
    assert got["orintui_ram_total_bytes"][0].value == pytest.approx(psutil.virtual_memory().total, rel=1e-6)
    assert 0 < got["orintui_ram_used_bytes"][0].value < got["orintui_ram_total_bytes"][0].value
    cores = got["orintui_cpu_utilization_ratio"]
    assert sorted(int(s.labels["cpu"]) for s in cores) == list(range(psutil.cpu_count()))
    assert all(0.0 <= s.value <= 1.0 for s in cores)
    # psutil measures no GPU, EMC, power or temperature: those are absent, never a made-up 0
    for name in ("orintui_gpu_utilization_ratio", "orintui_emc_utilization_ratio", "orintui_power_total_watts",
                 "orintui_power_watts", "orintui_temperature_celsius"):
        assert name not in got
    # bound to loopback only, by default
    listening = [c.laddr for c in psutil.Process(proc.pid).net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert [addr.ip for addr in listening] == ["127.0.0.1"]


def test_dashboard_queries_name_only_served_metrics(telemetry_exporter):
    proc, url = telemetry_exporter
    text = wait_until(lambda: fetch(url), "the exporter answering", proc=proc)
    names = served(text)
    assert all(name.startswith("orintui_") for name in names), sorted(names)
    queries = dashboard_queries()
    assert len(queries) >= 15
    used = set()
    for expr in queries:
        found = metric_names(expr)
        assert found, f"no metric in {expr!r}"
        assert found <= set(names), f"{expr!r} names {sorted(found - set(names))}, which the exporter does not serve"
        used |= found
    # the dashboard shows every figure the exporter serves (a histogram through its buckets)
    shown = {n for n in names if names[n] != "histogram" or n.endswith("_bucket")}
    assert shown - {"orintui_run_token_latency_seconds"} <= used, sorted(shown - used)


def test_port_in_use_is_one_line_and_runs_nothing(tmp_path, cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        r = cli("exporter", "--port", port, "--source", "psutil")
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.strip() == f"orintui: cannot serve metrics on 127.0.0.1 port {port}: Address already in use"
        out = tmp_path / "s.json"
        r = cli("run", "demo", "--headless", "--metrics-port", port, "--out", str(out))
        assert r.returncode == 2 and "Address already in use" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert not out.exists() and "Traceback" not in r.stderr
    r = cli("exporter", "--port", "70000")
    assert r.returncode == 2 and "is not a port" in r.stderr


# -- a real Prometheus ----------------------------------------------------------------------------

@pytest.fixture
def prometheus(tmp_path):
    """Debian's Prometheus on loopback, scraping 127.0.0.1:PORT every 250 ms; (port, query function)."""
    binary = shutil.which("prometheus")
    if binary is None:
        message = "prometheus is missing: apt-get install prometheus (scripts/test installs it)"
        if os.environ.get("CI") or os.environ.get("ORINTUI_REQUIRE_REAL"):
            pytest.fail(message)
        pytest.skip(message)
    target, web = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\n"
                      "scrape_configs:\n  - job_name: orintui\n    static_configs:\n"
                      f"      - targets: ['127.0.0.1:{target}']\n")
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{web}", "--web.enable-lifecycle"],
                            stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{web}"

    def query(promql: str, **params) -> list:
        path = "query_range" if "start" in params else "query"
        body = fetch(f"{api}/api/v1/{path}?" + urllib.parse.urlencode({"query": promql, **params}))
        assert body is not None, f"Prometheus did not answer {promql!r}"
        answer = json.loads(body)
        assert answer["status"] == "success", (promql, answer)
        return answer["data"]["result"]

    try:
        wait_until(lambda: fetch(f"{api}/-/ready"), "Prometheus ready")

        def scraping() -> bool:  # its discovery hands the target over after a few seconds: scrapes from then on
            targets = json.loads(fetch(f"{api}/api/v1/targets") or '{"data": {}}')["data"].get("activeTargets")
            return bool(targets) and not targets[0]["lastScrape"].startswith("0001")

        wait_until(scraping, "Prometheus scraping the (not yet started) exporter's address")
        yield target, query
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def scenario_file(tmp_path: Path, name: str, llama_bin: Path, model: Path) -> Path:
    path = tmp_path / f"{name}.toml"
    argv = [str(llama_bin / "llama-completion"), "-m", str(model), "-p", "Hello", "-n", "160", "--ignore-eos",
            "-no-cnv", "--temp", "0", "--seed", "1", "-t", "1"]
    path.write_text(f"name = {json.dumps(name)}\n\n[[runs]]\nlabel = {json.dumps(HOSTILE_LABEL)}\n"
                    f"backend = \"llama-completion\"\nargv = {json.dumps(argv)}\n")
    return path


def test_prometheus_scrapes_a_real_run(prometheus, llama_bin, small_model, tmp_path):
    port, query = prometheus
    started = time.time()
    for attempt in range(3):  # llama.cpp may drop its own last lines (see conftest.LLAMA_TAIL_LOST)
        name = f"prom-{attempt}"
        out = tmp_path / f"{name}.json"
        proc = subprocess.Popen([sys.executable, "-m", "orintui", "run", str(scenario_file(tmp_path, name, llama_bin, small_model)),
                                 "--headless", "--telemetry", "psutil", "--interval", "0.25", "--out", str(out),
                                 "--metrics-port", str(port), "--metrics-hold", "120"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        selector = f'{{scenario="{name}"}}'
        # during the run, Prometheus took the series with the run's status running and a live decode rate
        # (a series the exporter no longer serves is stale now, its samples stay: hence *_over_time)
        was_running = f'last_over_time(orintui_run_status{{scenario="{name}",status="running"}}[10m])'
        running = wait_until(lambda q=was_running: query(q), "the running run in Prometheus", timeout=300)
        live_rate = f"max_over_time(orintui_run_decode_tokens_per_second{selector}[10m]) > 0"
        wait_until(lambda q=live_rate: query(q), "a live decode rate", timeout=300)
        output, _ = proc.communicate(timeout=300)  # the exporter leaves once a scrape took the final figures
        session = load_session(out)
        if proc.returncode == 1 and llama_lost_its_tail(session):
            continue
        assert proc.returncode == 0, output
        break
    assert "serving the final figures until a scrape takes them" in output
    assert "no scrape took the final figures" not in output
    labels = running[0]["metric"]
    assert labels["run"] == HOSTILE_LABEL and labels["backend"] == "llama-completion"
    assert labels["host"] == socket.gethostname() == session.host["hostname"] and labels["board"]
    assert labels["job"] == "orintui" and labels["instance"] == f"127.0.0.1:{port}"

    m = run_metrics(session, session.runs[0])
    assert m.status == "ok" and m.tokens > 0

    def last(promql: str) -> float | None:  # the exporter has gone: its series are stale, their samples stay
        result = query(f"last_over_time({promql}[10m])")
        return float(result[0]["value"][1]) if len(result) == 1 else None

    assert wait_until(lambda: last(f"orintui_run_tokens{selector}") == m.tokens,
                      f"the final token count {m.tokens} (Prometheus has {last(f'orintui_run_tokens{selector}')})")
    assert last(f"orintui_run_decode_tokens_per_second{selector}") == pytest.approx(m.decode)
    assert last(f'orintui_run_status{{scenario="{name}",status="ok"}}') == 1
    assert last(f"orintui_run_ttft_seconds{selector}") == pytest.approx(m.ttft_ms / 1000.0)
    assert 0 < last(f"orintui_run_token_latency_seconds_count{selector}") <= m.tokens
    assert last(f'orintui_run_token_latency_seconds_bucket{{scenario="{name}",le="+Inf"}}') == \
        last(f"orintui_run_token_latency_seconds_count{selector}")
    assert last(f'orintui_ram_total_bytes{{host="{socket.gethostname()}"}}') == pytest.approx(psutil.virtual_memory().total)

    # every dashboard query is valid PromQL to a real Prometheus, and the run panels show this run
    span = {"start": f"{started:.3f}", "end": f"{time.time():.3f}", "step": "0.5"}
    for expr in dashboard_queries():
        if expr.startswith("label_values("):
            continue  # Grafana's own function, not PromQL
        result = query(as_promql(expr), **span)
        if "orintui_run_" in expr and "energy" not in expr:  # J/token needs power telemetry: none here
            assert result, f"{expr!r} shows nothing of the run"


def test_hostile_label_values_are_one_bounded_line():
    """Rail and sensor names come from a board's output: served as one line of at most 80 characters."""
    from orintui.running.exporter import LABEL_MAX, MetricsExporter
    from orintui.telemetry import empty_sample

    exporter = MetricsExporter()
    url = exporter.serve(0)
    try:
        sample = empty_sample("tegrastats")
        rail = "VDD_GPU\n# TYPE evil gauge\x1b[31m" + "x" * 300
        sample.update(power_mw={rail: 5000.0}, temp_c={'cpu"}': 41.5})
        exporter.telemetry.observe(sample, ("agx-orin-64gb", "lab-1"))
        got = samples(fetch(url))
    finally:
        exporter.close()
    power = got["orintui_power_watts"][0]
    assert power.value == 5.0 and len(power.labels["rail"]) == LABEL_MAX
    assert power.labels["rail"] == ("VDD_GPU # TYPE evil gauge" + "x" * 300)[:LABEL_MAX]  # escape sequence gone
    assert "\n" not in power.labels["rail"] and "evil" not in got
    assert got["orintui_temperature_celsius"][0].labels["sensor"] == 'cpu"}'


def test_a_live_runs_rate_and_ttft_are_the_engines():
    """While a run is live the exporter serves the engine's accumulator's figures (metrics_live): its
    TTFT from the last prefill start before the first token (metrics.ttft_ms) and its current rate
    (metrics.rolling_rate: the backend's ms only where every recent token has one). The exporter kept
    its own: TTFT from the first prefill start, and a rate over whichever tokens had an ms."""
    from prometheus_client import generate_latest

    from orintui.figures.metrics import rolling_rate
    from orintui.figures.metrics_live import SessionAccumulator
    from orintui.running.exporter import MetricsExporter
    from orintui.session import events as ev
    from orintui.session.model import RunInfo, Session

    session = Session(id="s", started_at="2026-01-01T00:00:00", host={"hostname": "h"}, scenario={"name": "x"},
                      runs=[RunInfo(index=0, label="a", backend="tinygrad-llama3", argv=["x"])])
    figures = SessionAccumulator(session)

    class Execution:  # what MetricsExporter.watch reads of an engine Execution
        def __init__(self):
            self.session, self.recorder, self.figures = session, self, figures

        def subscribe(self, listener):
            self.listener = listener

    exporter, execution = MetricsExporter(), Execution()
    exporter.watch(execution)
    events = [ev.run_started(0.0, 0, "a"), {**ev.phase(0.1, ev.Phase.PREFILL, "loading"), "run": 0},
              {**ev.phase(0.5, ev.Phase.PREFILL, "question sent"), "run": 0}]
    times = [1.0 + 0.1 * i for i in range(12)]
    events += [{**ev.token(t, "w", 50.0 if i % 2 else None), "run": 0} for i, t in enumerate(times)]
    for e in events:
        session.apply(e)
        figures.add(e)
        execution.listener(e)
    got = samples(generate_latest(exporter.registry).decode())
    assert got["orintui_run_ttft_seconds"][0].value == pytest.approx(0.5)
    expected = rolling_rate([(t, 50.0 if i % 2 else None) for i, t in enumerate(times)])
    assert expected == pytest.approx(10.0)  # arrival times: not every token has an ms
    assert got["orintui_run_decode_tokens_per_second"][0].value == pytest.approx(expected)
    assert got["orintui_run_tokens"][0].value == 12
