"""The OpenMetrics exporter: what orintui sees, for the Prometheus a lab already runs.

A listener beside the Recorder, like the app and the headless printer: the front ends start it
(``orintui run --metrics-port``, ``orintui exporter``) and it folds events into metrics of its own
registry. It runs on the threads that record, so it does O(1) work per event under one lock; the
HTTP server reads the metrics on its own threads. Label values come from data (run labels, rail and
sensor names): one line, bounded in length, and escaped by the client library.
"""

from __future__ import annotations

import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from orintui.core.sanitize import clean_line
from orintui.figures.metrics import RunMetrics
from orintui.figures.metrics_live import RunAccumulator, SessionAccumulator
from orintui.session import events as ev
from orintui.session import status as st
from orintui.session.events import Event, RunEndedEvent, SampleLike, SummaryEvent, TokenLike

LABEL_MAX = 80  # characters of a label value: a hostile label must not bloat every scrape
HOST_LABELS = ("board", "host")
RUN_LABELS = ("scenario", "run", "backend", "board", "host")
RATE_EVERY_S = 0.2  # the live decode gauge is set at most this often (a scrape is a second or more apart)
# per-token latency, seconds: a GPU's 1-2 ms to a Jetson CPU's hundreds
TOKEN_BUCKETS = (0.001, 0.002, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
                 0.5, 1.0, 2.5, float("inf"))


class ExporterError(Exception):
    """The exporter cannot serve (the port is in use, the address is not this machine's)."""


def label(value: object) -> str:
    text = clean_line("" if value is None else value).strip()
    return text[:LABEL_MAX] or "unknown"


def board_of(host: dict) -> str:
    return label(host.get("profile") or host.get("model") or host.get("gpu_name") or host.get("machine"))


class TelemetrySeries:
    """The telemetry sample's fields as gauges, in base units (ratios, hertz, watts, bytes)."""

    def __init__(self, registry: CollectorRegistry):
        def gauge(name: str, about: str, extra: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, about, HOST_LABELS + extra, registry=registry)

        self.scalars = {  # sample field -> (gauge, factor to the base unit)
            "gpu_load_pct": (gauge("orintui_gpu_utilization_ratio", "GPU load, 0 to 1"), 0.01),
            "gpu_freq_mhz": (gauge("orintui_gpu_clock_hertz", "GPU clock"), 1e6),
            "emc_util_pct": (gauge("orintui_emc_utilization_ratio", "memory controller (EMC) load, 0 to 1, "
                                                                      "of its current clock"), 0.01),
            "emc_freq_mhz": (gauge("orintui_emc_clock_hertz", "memory controller (EMC) clock"), 1e6),
            "emc_bw_gbs": (gauge("orintui_emc_bandwidth_bytes_per_second", "memory bandwidth in use, "
                                                                           "from EMC load and clock"), 1e9),
            "power_total_mw": (gauge("orintui_power_total_watts", "module power (the input rail, else the sum "
                                                                  "of rails)"), 1e-3),
            "ram_used_mb": (gauge("orintui_ram_used_bytes", "RAM in use"), 2**20),
            "ram_total_mb": (gauge("orintui_ram_total_bytes", "RAM installed"), 2**20),
        }
        self.keyed = {  # sample field -> (gauge, its key's label, factor)
            "power_mw": (gauge("orintui_power_watts", "power per rail", ("rail",)), 1e-3),
            "temp_c": (gauge("orintui_temperature_celsius", "temperature per sensor", ("sensor",)), 1.0),
            "cpu_load_pct": (gauge("orintui_cpu_utilization_ratio", "load per CPU core, 0 to 1", ("cpu",)), 0.01),
        }
        self.samples = Gauge("orintui_telemetry_samples", "telemetry samples taken, by source",
                             HOST_LABELS + ("source",), registry=registry)
        self._count: dict[str, int] = {}
        self._keys: dict[str, set] = {name: set() for name in self.keyed}

    def observe(self, sample: SampleLike, host: tuple[str, str]) -> None:
        """A field the source does not give is removed, not left at its last value: a source that
        took over from a dead one must not leave the old one's figures standing."""
        for field, (gauge, factor) in self.scalars.items():
            value = sample.get(field)
            if isinstance(value, (int, float)):
                gauge.labels(*host).set(value * factor)
            else:
                gauge.remove(*host)
        for field, (gauge, factor) in self.keyed.items():
            values = sample.get(field) or {}
            if isinstance(values, list):  # CPU cores: by index
                values = {str(i): v for i, v in enumerate(values)}
            keys = set()
            for key, value in values.items() if isinstance(values, dict) else ():
                if isinstance(value, (int, float)):
                    keys.add(label(key))
                    gauge.labels(*host, label(key)).set(value * factor)
            for gone in self._keys[field] - keys:
                gauge.remove(*host, gone)
            self._keys[field] = keys
        source = label(sample.get("source"))
        self._count[source] = self._count.get(source, 0) + 1
        self.samples.labels(*host, source).set(self._count[source])


class RunFigures:
    """What the exporter keeps of a live run beside the engine's accumulator, which gives its token
    count, TTFT and current decode rate (metrics_live, as the app's lanes and the headless log show
    them): its series, and the last arrival for the per-token latency histogram."""

    def __init__(self) -> None:
        self.last_t: float | None = None
        self.rate_t = -math.inf  # when its decode gauge was last set
        self.series: tuple = ()  # its tokens gauge and latency histogram
        self.decode: Any = None  # its decode gauge, from its first rate on

    def token_ms(self, event: TokenLike) -> float | None:
        """This token's ms (the backend's, else since the previous arrival); None for a warm-up token."""
        t, ms = event["t"], event.get("ms")
        delta = ms if ms is not None else ((t - self.last_t) * 1000.0 if self.last_t is not None else None)
        self.last_t = t
        return None if event.get("warmup") else delta


class RunSeries:
    """The per-run series, labelled scenario, run, backend, board, host."""

    def __init__(self, registry: CollectorRegistry):
        def gauge(name: str, about: str, extra: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, about, RUN_LABELS + extra, registry=registry)

        self.decode = gauge("orintui_run_decode_tokens_per_second", "decode rate: live over the last tokens, "
                                                                     "then the run's own figure when it ends")
        self.tokens = gauge("orintui_run_tokens", "tokens generated by the run (the latest repetition)")
        self.ttft = gauge("orintui_run_ttft_seconds", "time to first token")
        self.j_per_token = gauge("orintui_run_energy_joules_per_token", "decode energy per token (power "
                                                                        "telemetry only)")
        self.status = gauge("orintui_run_status", "1 for the run's current status", ("status",))
        self.latency = Histogram("orintui_run_token_latency_seconds", "time per generated token",
                                 RUN_LABELS, buckets=TOKEN_BUCKETS, registry=registry)


class MetricsExporter:
    """A private registry, what feeds it, and the HTTP server that serves it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.telemetry = TelemetrySeries(self.registry)
        self.runs = RunSeries(self.registry)
        self._lock = threading.Lock()  # listeners are called from the runner's, telemetry's and engine's threads
        self._figures: dict[int, RunFigures] = {}
        self._labels: dict[int, tuple[str, ...]] = {}
        self._status: dict[tuple[str, ...], str] = {}
        self.host: tuple[str, str] = ("unknown", "unknown")
        self._server: ThreadingWSGIServer | None = None
        self._sent = threading.Condition()
        self._scrapes = 0  # /metrics responses sent in full
        self.url = ""

    # -- serving ------------------------------------------------------------------------------
    def serve(self, port: int, bind: str = "127.0.0.1") -> str:
        """Listen now (before anything runs, so a port in use is said at once); the URL."""
        app = make_wsgi_app(self.registry)

        def counted(environ, start_response):
            body = app(environ, start_response)
            return _Sent(body, self._scrape_sent) if environ.get("PATH_INFO") == "/metrics" else body

        try:
            family = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
            server_class = type("Server", (ThreadingWSGIServer,), {"address_family": family})
            self._server = make_server(bind, port, counted, server_class, handler_class=_Quiet)
        except (OSError, OverflowError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise ExporterError(f"cannot serve metrics on {bind} port {port}: {why}") from None
        threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True).start()
        host = f"[{bind}]" if ":" in bind else bind
        self.url = f"http://{host}:{self._server.server_address[1]}/metrics"
        return self.url

    def _scrape_sent(self) -> None:
        with self._sent:
            self._scrapes += 1
            self._sent.notify_all()

    def hold(self, seconds: float) -> bool:
        """After the session: serve until a scrape has taken the final figures, at most ``seconds``
        (Prometheus pulls, so a run that ends between scrapes would otherwise lose its last figures).
        Whether one did."""
        deadline = time.monotonic() + seconds
        with self._sent:
            before = self._scrapes
            while self._scrapes == before:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._sent.wait(min(left, 0.2))  # short waits: Ctrl-C stays prompt
        return True

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- feeding ------------------------------------------------------------------------------
    def watch(self, execution: Any) -> None:  # an engine Execution: a sibling layer, not imported
        """Subscribe to an engine Execution's recorder (the engine calls this for each one it creates)."""
        session = execution.session
        self.host = (board_of(session.host), label(session.host.get("hostname")))
        scenario = label(session.scenario.get("name"))
        with self._lock:  # the app runs one scenario after another: only the current one's runs are served
            self._figures.clear()
            self._status.clear()
            for metric in (self.runs.decode, self.runs.tokens, self.runs.ttft, self.runs.j_per_token,
                           self.runs.status, self.runs.latency):
                metric.clear()
            self._labels = {run.index: (scenario, label(run.label), label(run.backend), *self.host)
                            for run in session.runs if not run.warmup}  # warm-ups are not figures
            for labels in self._labels.values():
                self._set_status(labels, st.QUEUED)
        # subscribed after the engine's accumulators (watchers run last): a run's figures are in at its end
        execution.recorder.subscribe(lambda event: self.on_event(event, execution.figures))

    def on_event(self, event: Event, figures: SessionAccumulator) -> None:
        """``figures``: the engine's accumulators, fed this event already (metrics_live): a live run's
        count, TTFT and current rate, and an ended run's batch figures, with no event read back."""
        kind = event.get("kind")
        if kind == ev.TELEMETRY:
            self.telemetry.observe(event, self.host)
            return
        run = event.get("run")
        if not isinstance(run, int):
            return
        with self._lock:
            labels = self._labels.get(run)
            if labels is None:
                return
            if kind == ev.TOKEN:
                self._token(run, labels, event, figures.runs[run])
            elif kind == ev.RUN_STARTED:
                for gauge in (self.runs.decode, self.runs.ttft, self.runs.j_per_token):
                    gauge.remove(*labels)
                kept = self._figures[run] = RunFigures()
                # the run's series looked up once: labels() is most of a token's cost otherwise
                kept.series = (self.runs.tokens.labels(*labels), self.runs.latency.labels(*labels))
                kept.series[0].set(0)
                self._set_status(labels, st.RUNNING)
            elif kind == ev.SUMMARY:
                if rate := cast(SummaryEvent, event).get("eval_tok_s"):
                    self.runs.decode.labels(*labels).set(rate)
            elif kind == ev.RUN_ENDED:
                self._ended(run, labels, cast(RunEndedEvent, event), figures.metrics)

    def _token(self, run: int, labels: tuple[str, ...], event: TokenLike, acc: RunAccumulator) -> None:
        kept = self._figures.get(run)
        if kept is None:
            return
        if acc.tokens == 1 and acc.ttft_ms is not None:  # metrics.ttft_ms, worked out at the first token
            self.runs.ttft.labels(*labels).set(max(0.0, acc.ttft_ms / 1000.0))
        ms = kept.token_ms(event)
        tokens, latency = kept.series
        tokens.set(acc.tokens)
        if ms is not None:
            latency.observe(ms / 1000.0)
        if event.get("warmup") or event["t"] - kept.rate_t < RATE_EVERY_S:
            return
        kept.rate_t = event["t"]
        rate = acc.current_rate()[0]
        if rate:  # no rate yet is no series, not 0
            if kept.decode is None:
                kept.decode = self.runs.decode.labels(*labels)
            kept.decode.set(rate)

    def _ended(self, run: int, labels: tuple[str, ...], event: RunEndedEvent,
               run_figures: Callable[[int], RunMetrics]) -> None:
        """The run's own figures, as reports give them (once a run: its timing is over)."""
        self._figures.pop(run, None)
        self._set_status(labels, label(event.get("status")))
        if event.get("status") == st.SKIPPED:
            return
        m = run_figures(run)
        self.runs.tokens.labels(*labels).set(m.tokens)
        for gauge, value in ((self.runs.decode, m.decode), (self.runs.j_per_token, m.energy_j_per_token),
                             (self.runs.ttft, m.ttft_ms / 1000.0 if m.ttft_ms is not None else None)):
            if value is not None:
                gauge.labels(*labels).set(value)

    def _set_status(self, labels: tuple[str, ...], status: str) -> None:
        previous = self._status.get(labels)
        if previous is not None and previous != status:
            self.runs.status.remove(*labels, previous)
        self._status[labels] = status
        self.runs.status.labels(*labels, status).set(1)


class _Sent:
    """A WSGI body that says when the server has written it (WSGI servers call close() after)."""

    def __init__(self, body: Iterable[bytes], on_sent: Callable[[], None]):
        self.body, self.on_sent = body, on_sent

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        self.on_sent()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        """Scrapes are not news: nothing on stderr."""


def serve_telemetry(port: int, bind: str, source: str, interval: float) -> int:
    """``orintui exporter``: telemetry alone, for a board that is not benchmarking, until stopped."""
    from orintui.telemetry.profiles import host_facts, match_profile
    from orintui.telemetry.sampler import TelemetrySampler

    facts = host_facts()
    profile = match_profile(facts.get("model"), facts.get("ram_total_mb"))
    exporter = MetricsExporter()
    exporter.host = (board_of(facts), label(facts.get("hostname")))
    t0 = time.monotonic()

    def emit(event: Event) -> None:
        if event["kind"] == ev.NOTE:
            print(clean_line(f"orintui: {event.get('text')}"), file=sys.stderr, flush=True)
        else:
            exporter.telemetry.observe(event, exporter.host)

    sampler = TelemetrySampler(source, interval, emit, lambda: time.monotonic() - t0, profile,
                               mono_to_session=lambda m: m - t0)
    url = exporter.serve(port, bind)
    try:
        opened = sampler.open()
        if opened is None:
            reasons = "; ".join(f"{k}: {v}" for k, v in sampler.skipped.items())
            print(clean_line(f"orintui: no telemetry source works here ({reasons})"), file=sys.stderr)
            return 1
        print(clean_line(f"orintui: serving {opened.name} telemetry on {url}"), file=sys.stderr, flush=True)
        sampler.start()
        try:
            while sampler.source is not None:
                time.sleep(0.2)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: a stopped exporter is no failure
            return 0
        print("orintui: every telemetry source stopped", file=sys.stderr)
        return 1
    finally:
        sampler.stop()
        exporter.close()
