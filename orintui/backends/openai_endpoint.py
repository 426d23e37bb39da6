"""Served models: an OpenAI-compatible HTTP endpoint (llama-server, tinygrad ``--serve``, vLLM, MLC,
Ollama, TensorRT Edge-LLM), streamed chunk by chunk.

A run either launches its server (``server = [argv]``: through the same BackendRunner as every other
backend, so its log lines become output events and its process group is ended at the end) and waits
until the API answers, or attaches to a ``url`` that is already serving (orintui never stops what it did
not start). It then sends ``stream: true`` requests with httpx and stamps each chunk's arrival on the
session clock. The server's own figures (llama-server's ``timings``, ``usage`` token counts, tinygrad's
``prefill: X tok/s gen: Y tok/s`` log line) go into the run's summary, named as the server's.

Threads: one per stream reads the HTTP response and puts (arrival time, line) on a queue; the run's
own thread records everything, so events keep their order and cancel/timeouts are checked between
chunks.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orintui.backends.base import Adapter, Parser, to_float, to_int
from orintui.backends.runner import BackendRunner, RunResult
from orintui.core.sanitize import clean_text
from orintui.session import events as ev
from orintui.session import status as st
from orintui.session.events import Event
from orintui.session.schema import check_summary, number

if TYPE_CHECKING:
    import httpx

NAME = "openai"
APIS = {"chat": "/v1/chat/completions", "completions": "/v1/completions",
        # Ollama's native API: NDJSON, and its own figures (eval_count, eval_duration in ns) in the last object
        "ollama": "/api/generate", "ollama-chat": "/api/chat"}
DEFAULT_PROMPT = "Write a short story about a robot that learns to paint."
POLL_S = 0.25  # readiness polling interval
MAX_BODY = 400  # characters of an HTTP error body kept in the error

# tinygrad 0.13 `--serve`, per request on stderr:
# /v1/chat/completions  --  in:    0 +   12  --  prefill:  123 tok/s  --  gen:   45 tok/s  --  out:   10  --  total:  1.23s
TINYGRAD_SERVE = re.compile(r"in:\s*(\d+)\s*\+\s*(\d+)\s.*?prefill:\s*([\d.]+)\s*tok/s.*?gen:\s*([\d.]+)\s*tok/s"
                            r"(?:.*?out:\s*(\d+))?")


class ServerLog(Parser):
    """The launched server's log: every line an output event; tinygrad's per-request figures kept."""

    backend = NAME

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.serve_figures: list[dict[str, float | int | None]] = []

    def line(self, line: str, t: float, out: list[Event]) -> None:
        if m := TINYGRAD_SERVE.search(line):
            self.recognised = True
            self.serve_figures.append({"cached": to_int(m.group(1)), "prompt_tokens": to_int(m.group(2)),
                                       "prompt_tok_s": to_float(m.group(3)), "eval_tok_s": to_float(m.group(4)),
                                       "generated_tokens": to_int(m.group(5)) if m.group(5) else None})

    def tail_lines(self) -> str:
        return self.last_words()


ADAPTER = Adapter(
    name=NAME,
    description="an OpenAI-compatible server (llama-server, tinygrad --serve, vLLM, MLC, Ollama), streamed over HTTP",
    parser=ServerLog,
    binary_hint="build llama-server with scripts/build-llama-cpp, or attach to a running server with url = \"http://...\"",
)


@dataclass
class EndpointSpec:
    """What one endpoint run does (from the scenario's run keys)."""

    url: str
    server: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    api: str = "completions"
    prompt: str = DEFAULT_PROMPT
    max_tokens: int = 128
    concurrency: int = 1
    warmup_requests: int = 0
    request: dict[str, Any] = field(default_factory=dict)  # extra body fields (model, ignore_eos, temperature)
    idle_timeout: float = 300.0  # no chunk for this long mid-stream: the run times out
    total_timeout: float = 3600.0
    ready_timeout: float = 300.0  # a launched server must answer /v1/models within this


class _Stream:
    """One request's state, as the run's thread sees it."""

    def __init__(self, sid: int):
        self.sid = sid
        self.sent: float | None = None  # monotonic
        self.first: float | None = None
        self.last: float | None = None
        self.chunks = 0  # data events that carried text
        self.tokens = 0
        self.text_len = 0
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.timings: dict[str, Any] = {}
        self.done = False  # [DONE] seen, or the response ended
        self.saw_done = False
        self.error: tuple[str, str] | None = None
        self.lines = 0
        self.native: dict[str, Any] = {}  # Ollama's last object (done: true) with its figures


def body_for(spec: EndpointSpec, model: str | None, lead: str = "") -> dict[str, Any]:
    """The request; ``lead`` goes before the prompt (warm-ups differ from the measured prompt at its
    start, so that a server's prefix cache cannot answer the measured request from them)."""
    body: dict[str, Any]
    if spec.api.startswith("ollama"):  # Ollama's native API: its own name for the token limit
        body = {"stream": True, "options": {"num_predict": spec.max_tokens}}
    else:
        body = {"max_tokens": spec.max_tokens, "stream": True, "stream_options": {"include_usage": True},
                # llama-server: never answer a repeated prompt from its prefix cache
                "cache_prompt": False}
    if spec.api in ("chat", "ollama-chat"):
        body["messages"] = [{"role": "user", "content": lead + spec.prompt}]
    else:
        body["prompt"] = lead + spec.prompt
    if model:
        body["model"] = model
    body.update(spec.request)
    return body


def _excerpt(text: str) -> str:
    text = clean_text(text).replace("\r", " ").replace("\n", " ").strip()
    return text if len(text) <= MAX_BODY else text[:MAX_BODY] + "..."


def _worker(client: httpx.Client, url: str, body: dict[str, Any], q: queue.Queue, sid: int, idle: float) -> None:
    """One streaming request; everything it sees goes on the queue with its arrival time."""
    import httpx

    try:
        q.put((time.monotonic(), sid, "sent", None))
        timeout = httpx.Timeout(connect=10.0, read=idle, write=30.0, pool=30.0)
        with client.stream("POST", url, json=body, timeout=timeout) as resp:
            if resp.status_code >= 400:
                text = _excerpt(resp.read().decode("utf-8", "replace")) or "(empty body)"
                q.put((time.monotonic(), sid, "error", (st.FAILED, f"HTTP {resp.status_code} from {url}: {text}")))
                return
            for line in resp.iter_lines():
                q.put((time.monotonic(), sid, "line", line))
        q.put((time.monotonic(), sid, "end", None))
    except httpx.ReadTimeout:
        q.put((time.monotonic(), sid, "error", (st.TIMEOUT, f"the server sent nothing for {idle:g} s mid-stream (idle_timeout)")))
    except httpx.ConnectError as exc:
        q.put((time.monotonic(), sid, "error", (st.FAILED, f"cannot connect to {url}: {exc or 'connection refused'}")))
    except httpx.HTTPError as exc:
        q.put((time.monotonic(), sid, "error", (st.FAILED, f"{type(exc).__name__} from {url}: {exc or 'the connection broke'}")))
    except Exception as exc:  # the run's thread must always hear that this stream is over
        q.put((time.monotonic(), sid, "error", (st.FAILED, f"orintui stream error: {exc!r}")))


class EndpointRun:
    """Runs one endpoint run; the same interface as BackendRunner for the engine (run, cancel)."""

    def __init__(self, spec: EndpointSpec, emit: Callable[[Event], None], clock: Callable[[float], float]):
        self.spec = spec
        self.emit = emit
        self.clock = clock  # monotonic time -> session time
        self.server: BackendRunner | None = None
        self.log = ServerLog()
        self._stop_reason: tuple[str, str, bool] | None = None
        self._client: httpx.Client | None = None

    def cancel(self, reason: str = "cancelled by the user", status: str = st.CANCELLED, by_user: bool = True) -> None:
        if self._stop_reason is None:
            self._stop_reason = (status, reason, by_user)

    def _now(self) -> float:
        return self.clock(time.monotonic())

    def _emit_read(self, events: list[Event]) -> None:
        """The server's output, a read at a time (BackendRunner's form), as events one at a time."""
        for event in events:
            self.emit(event)

    def _note(self, text: str, level: str = "info") -> None:
        self.emit(ev.note(self._now(), text, level))

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> RunResult:
        import httpx

        started = time.monotonic()
        client = self._client = httpx.Client(trust_env=False,
                                             limits=httpx.Limits(max_connections=max(4, self.spec.concurrency + 2)))
        try:
            status, error, by_user = self._run(started)
        except Exception as exc:  # never let a run end without a status
            status, error, by_user = st.FAILED, f"orintui endpoint error: {exc!r}", False
        finally:
            client.close()
        code = sig = None
        pgid, leftovers = None, tuple[int, ...]()
        if self.server is not None:
            result = self._end_server()
            code, sig, pgid, leftovers = result.exit_code, result.signal, result.pgid, result.leftover_pids
            if leftovers:
                note = f"{len(leftovers)} process(es) the server started outlived it (pid {', '.join(map(str, leftovers))})"
                error = f"{error}; {note}" if error else note
        return RunResult(status, code, sig, error, by_user, pgid=pgid, leftover_pids=leftovers)

    def _run(self, started: float) -> tuple[str, str | None, bool]:
        spec = self.spec
        if spec.server:
            self.server = BackendRunner(spec.server, self.log, self._emit_read, self.clock, env=spec.env, cwd=spec.cwd)
            self.server.start()
        model, why = self._wait_ready(started)
        if why is not None:
            return why
        for i in range(spec.warmup_requests):
            self._note(f"warm-up request {i + 1} of {spec.warmup_requests} (not recorded as tokens)")
            got = self._requests(model, warmup=i + 1, started=started)
            if got is not None:
                status, error, by_user = got
                return status, f"warm-up request {i + 1}: {error}", by_user
        got = self._requests(model, warmup=0, started=started)
        if got is not None:
            return got
        return self._verdict

    def _server_gone(self) -> str | None:
        """Why a launched server is no longer there (it exited), or None."""
        if self.server is None or not self.server._done.is_set():
            return None
        result = self.server.wait(0)
        if result is not None and result.exit_code is None and result.signal is None and result.error:
            return f"the server could not start: {result.error}"
        what = f"exit code {result.exit_code}" if result and result.exit_code else (
            f"signal {result.signal}" if result and result.signal else "exit code 0")
        return f"the server exited ({what}){self.log.last_words()}"

    def _wait_ready(self, started: float) -> tuple[str | None, tuple[str, str | None, bool] | None]:
        """The model name the server lists (or None), once /v1/models answers; or why it never did."""
        import httpx

        spec = self.spec
        url = spec.url.rstrip("/") + "/v1/models"
        deadline = started + (spec.ready_timeout if spec.server else 30.0)
        assert self._client is not None  # run() opened it
        last = "no answer yet"
        while True:
            if self._stop_reason:
                status, reason, by_user = self._stop_reason
                return None, (status, reason, by_user)
            if gone := self._server_gone():
                return None, (st.FAILED, f"{gone} before it was ready", False)
            try:
                resp = self._client.get(url, timeout=httpx.Timeout(5.0))
            except httpx.ConnectError as exc:
                last = f"connection refused ({exc})" if "refused" in str(exc).lower() or not str(exc) else str(exc)
                if not spec.server:  # attached: nothing to wait for
                    return None, (st.FAILED, f"cannot connect to {spec.url}: {last} (attached: orintui starts no server)", False)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    model = None
                    try:
                        data = resp.json().get("data") or []
                        model = data[0].get("id") if data and isinstance(data[0], dict) else None
                    except (ValueError, AttributeError):
                        pass
                    waited = time.monotonic() - started
                    self._note(f"server ready at {spec.url} after {waited:.2f} s" + (f" (model {model})" if model else "")
                               if spec.server else f"attached to {spec.url}" + (f" (model {model})" if model else ""))
                    return (None if "model" in spec.request else model), None
                last = f"HTTP {resp.status_code} {_excerpt(resp.text)}"
                if not spec.server and resp.status_code not in (503,):
                    return None, (st.FAILED, f"{url} answered {last}", False)
            if time.monotonic() > deadline:
                where = f"{self.log.last_words()}" if spec.server else ""
                limit = spec.ready_timeout if spec.server else 30.0
                return None, (st.FAILED, f"the server was not ready after {limit:g} s ({url}: {last}){where}", False)
            time.sleep(POLL_S)

    _verdict: tuple[str, str | None, bool] = (st.OK, None, False)
    _logged_before = 0

    def _requests(self, model: str | None, warmup: int, started: float) -> tuple[str, str | None, bool] | None:
        """Send the streams, record what comes back. None when every stream ended well (the verdict is
        kept in self._verdict for the measured requests); else (status, error, by_user)."""
        spec = self.spec
        url = spec.url.rstrip("/") + APIS[spec.api]
        body = body_for(spec, model, f"Warm-up {warmup}. " if warmup else "")
        q: queue.Queue = queue.Queue()
        self._logged_before = len(self.log.serve_figures)
        streams = [_Stream(i) for i in range(spec.concurrency)]
        if not warmup:
            self.emit(ev.phase(self._now(), ev.Phase.PREFILL, f"{spec.concurrency} stream(s) to {url}"))
        for s in streams:
            threading.Thread(target=_worker, args=(self._client, url, body, q, s.sid, spec.idle_timeout),
                             name=f"stream-{s.sid}", daemon=True).start()
        open_streams = len(streams)
        decoding = False
        count = 0
        while open_streams:
            if self._stop_reason:
                return self._stopped(streams)
            if spec.total_timeout and time.monotonic() - started > spec.total_timeout:
                return st.TIMEOUT, f"ran longer than {spec.total_timeout:g} s", False
            if gone := self._server_gone():
                return st.FAILED, f"{gone} during the request", False
            try:
                stamp, sid, kind, payload = q.get(timeout=0.1)
            except queue.Empty:
                continue
            s = streams[sid]
            t = self.clock(stamp)
            if kind == "sent":
                s.sent = stamp
            elif kind == "error":
                s.error, s.done = payload, True
                open_streams -= 1
            elif kind == "end":
                s.done = True
                open_streams -= 1
            elif kind == "line" and s.error is None:
                texts = self._ndjson_line(s, payload) if spec.api.startswith("ollama") else self._sse_line(s, payload)
                if s.error is not None:  # malformed: this stream is over, what came before stays recorded
                    continue
                for text in texts:
                    s.chunks += 1
                    s.first = s.first if s.first is not None else stamp
                    s.last = stamp
                    s.text_len += len(text)
                    if warmup:
                        continue
                    if not decoding:
                        decoding = True
                        self.emit(ev.phase(t, ev.Phase.DECODE))
                    count += 1
                    extra = {"stream": sid} if spec.concurrency > 1 else {}
                    self.emit(ev.token(t, clean_text(text), None, False, index=count - 1, **extra))
        failed = [s for s in streams if s.error is not None]
        if failed:
            # the streams that did finish keep their figures
            if not warmup:
                self._summary(streams)
            status, why = failed[0].error or (st.FAILED, "")
            more = f" ({len(failed)} of {len(streams)} streams failed)" if len(streams) > 1 else ""
            where = f"stream {failed[0].sid}: " if len(streams) > 1 else ""
            return status, f"{where}{why}{more}", False
        if warmup:
            return None
        self._verdict = self._summary(streams)
        return None

    def _stopped(self, streams: list[_Stream]) -> tuple[str, str | None, bool]:
        assert self._stop_reason is not None  # called once a stop was asked for
        status, reason, by_user = self._stop_reason
        if status == st.CANCELLED and any(s.chunks for s in streams):
            self._summary(streams)
            return st.PARTIAL, f"{reason} after {sum(s.chunks for s in streams)} chunks", by_user
        return status, reason, by_user

    # -- Ollama's NDJSON -----------------------------------------------------------------------
    def _ndjson_line(self, s: _Stream, line: str) -> list[str]:
        """One object of Ollama's native stream: its text, and in the last one (done: true) the server's
        own counts and durations. A line that is not a JSON object ends the stream as malformed."""
        s.lines += 1
        if not line.strip():
            return []
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            s.error = (st.FAILED, f"malformed stream from {self.spec.url}: line {s.lines} is not a JSON object: "
                                  f"{_excerpt(line)!r}")
            return []
        if "error" in obj:
            s.error = (st.FAILED, f"the server reported an error mid-stream: {_excerpt(str(obj['error']))}")
            return []
        message = obj.get("message")
        text = obj.get("response") if "response" in obj else (message.get("content") if isinstance(message, dict) else None)
        if obj.get("done") is True:
            s.native, s.saw_done = obj, True
            if isinstance(obj.get("done_reason"), str):
                s.finish_reason = obj["done_reason"]
        return [text] if isinstance(text, str) and text else []

    # -- SSE ----------------------------------------------------------------------------------
    def _sse_line(self, s: _Stream, line: str) -> list[str]:
        """One line of the event stream: the texts it carries ([] for none). A line that is not SSE,
        or data that is not JSON, ends the stream as malformed."""
        s.lines += 1
        if not line or line.startswith(":") or line.startswith(("event:", "id:", "retry:")):
            return []
        if not line.startswith("data:"):
            s.error = (st.FAILED, f"malformed SSE from {self.spec.url}: line {s.lines} is not an event stream line: {_excerpt(line)!r}")
            return []
        data = line[5:].strip()
        if data == "[DONE]":
            s.saw_done = True
            return []
        try:
            obj = json.loads(data)
        except ValueError:
            s.error = (st.FAILED, f"malformed SSE from {self.spec.url}: line {s.lines} is not JSON: {_excerpt(data)!r}")
            return []
        if not isinstance(obj, dict):
            s.error = (st.FAILED, f"malformed SSE from {self.spec.url}: line {s.lines} is not a JSON object: {_excerpt(data)!r}")
            return []
        if "error" in obj:
            err = obj["error"]
            msg = err.get("message") if isinstance(err, dict) else err
            s.error = (st.FAILED, f"the server reported an error mid-stream: {_excerpt(str(msg))}")
            return []
        if isinstance(obj.get("usage"), dict):
            s.usage = obj["usage"]
        if isinstance(obj.get("timings"), dict):
            s.timings = obj["timings"]
        texts = []
        for choice in obj.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            if choice.get("finish_reason"):
                s.finish_reason = str(choice["finish_reason"])
            delta = choice.get("delta")
            parts = [choice.get("text")] if "text" in choice else []
            if isinstance(delta, dict):
                parts += [delta.get("reasoning_content"), delta.get("content")]
            texts += [p for p in parts if isinstance(p, str) and p]
        return ["".join(texts)] if texts else []

    # -- figures ------------------------------------------------------------------------------
    def _stream_figures(self, s: _Stream) -> dict[str, Any]:
        f: dict[str, Any] = {"chunks": s.chunks, "finish_reason": s.finish_reason}
        usage, timings, native = _numbers(s.usage), _numbers(s.timings), _numbers(s.native)
        generated = usage.get("completion_tokens") if isinstance(usage.get("completion_tokens"), int) else None
        if generated is None and isinstance(timings.get("predicted_n"), int):
            generated = timings["predicted_n"]
        f["generated_tokens"] = generated if generated is not None else s.chunks
        f["tokens_source"] = ("server: usage.completion_tokens" if isinstance(usage.get("completion_tokens"), int) else
                              "server: timings.predicted_n" if generated is not None else "observed: chunks with text")
        if isinstance(usage.get("prompt_tokens"), int):
            f["prompt_tokens"] = usage["prompt_tokens"]
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if isinstance(timings.get("cache_n"), int):
            cached = timings["cache_n"] if cached is None else max(cached, timings["cache_n"])
        if isinstance(cached, int):
            f["cached_prompt_tokens"] = cached
        if (v := _num(timings.get("predicted_per_second"))) is not None:
            f["eval_tok_s"], f["decode_source"] = v, "server: llama-server timings.predicted_per_second"
            f["eval_ms"], f["eval_runs"] = _num(timings.get("predicted_ms")), timings.get("predicted_n")
        if (v := _num(timings.get("prompt_per_second"))) is not None:
            f["prompt_tok_s"], f["prefill_source"] = v, "server: llama-server timings.prompt_per_second"
            f["prompt_ms"] = _num(timings.get("prompt_ms"))
            if isinstance(timings.get("prompt_n"), int):
                f["prompt_tokens_processed"] = timings["prompt_n"]
        if isinstance(native.get("eval_count"), int):
            f["generated_tokens"], f["tokens_source"] = native["eval_count"], "server: Ollama eval_count"
            if (ns := _num(native.get("eval_duration"))) and ns >= 1:  # nanoseconds
                f["eval_tok_s"] = native["eval_count"] / (ns / 1e9)
                f["eval_ms"], f["decode_source"] = ns / 1e6, "server: Ollama eval_count / eval_duration"
        if isinstance(native.get("prompt_eval_count"), int):
            f["prompt_tokens"] = native["prompt_eval_count"]
            if (ns := _num(native.get("prompt_eval_duration"))) and ns >= 1:
                f["prompt_tok_s"] = native["prompt_eval_count"] / (ns / 1e9)
                f["prompt_ms"], f["prefill_source"] = ns / 1e6, "server: Ollama prompt_eval_count / prompt_eval_duration"
        if (ns := _num(native.get("load_duration"))) is not None:
            f["load_ms"] = ns / 1e6
        if s.sent is not None and s.first is not None:
            f["ttft_ms"] = round((s.first - s.sent) * 1000.0, 3)
        if s.first is not None and s.last is not None and s.chunks > 1:
            f["observed_tok_s"] = round((f["generated_tokens"] - 1) / (s.last - s.first), 3) if s.last > s.first else None
        return _holdable(f)

    def _summary(self, streams: list[_Stream]) -> tuple[str, str | None, bool]:
        spec = self.spec
        per = [self._stream_figures(s) for s in streams]
        # tinygrad --serve prints its own figures per request on its log, after the last chunk
        if self.server is not None and "eval_tok_s" not in per[0] and len(streams) == 1 \
                and (self.log.recognised or "in:" in self.log._pending):
            deadline = time.monotonic() + 2.0
            while len(self.log.serve_figures) <= self._logged_before and time.monotonic() < deadline:
                time.sleep(0.02)
            if len(self.log.serve_figures) > self._logged_before:
                g = self.log.serve_figures[-1]
                per[0].update({"eval_tok_s": g["eval_tok_s"], "decode_source": "server log: tinygrad gen: tok/s",
                               "prompt_tok_s": g["prompt_tok_s"], "prefill_source": "server log: tinygrad prefill: tok/s",
                               "prompt_tokens_processed": g["prompt_tokens"]})
                if g["cached"]:
                    per[0]["cached_prompt_tokens"] = g["cached"]
        done = [(s, f) for s, f in zip(streams, per) if s.error is None]
        figures: dict[str, Any] = {"api": spec.api, "url": spec.url, "max_tokens": spec.max_tokens,
                                   "concurrency": spec.concurrency}
        if len(streams) == 1:
            figures.update(per[0])
        else:
            figures["streams"] = per
            figures["generated_tokens"] = sum(f["generated_tokens"] for f in per)
            firsts = [s.first for s in streams if s.first is not None]
            lasts = [s.last for s in streams if s.last is not None]
            sent = [s.sent for s in streams if s.sent is not None]
            if sent and lasts:
                figures["aggregate_tok_s"] = round(figures["generated_tokens"] / (max(lasts) - min(sent)), 3)
                figures["aggregate_source"] = "observed: every stream's tokens over first send to last chunk"
            rates = [f["eval_tok_s"] for f in per if f.get("eval_tok_s")]
            if rates and len(rates) == len(per):
                figures["eval_tok_s"] = round(sum(rates) / len(rates), 3)
                figures["decode_source"] = f"server: mean of {len(rates)} streams' timings.predicted_per_second"
            prompt_rates = [f["prompt_tok_s"] for f in per if f.get("prompt_tok_s")]
            if prompt_rates and len(prompt_rates) == len(per):
                figures["prompt_tok_s"] = round(sum(prompt_rates) / len(prompt_rates), 3)
                figures["prefill_source"] = f"server: mean of {len(prompt_rates)} streams' timings.prompt_per_second"
            if firsts and sent:
                figures["ttft_ms_max"] = round((max(f["ttft_ms"] for f in per if "ttft_ms" in f)), 3)
        merged = [f for f in per if f["generated_tokens"] > f["chunks"]]
        if merged:
            figures["merged_chunks"] = True
        self.emit(ev.summary(self._now(), **_holdable(figures)))
        for s, f in zip(streams, per):
            where = f"stream {s.sid}: " if len(streams) > 1 else ""
            if f.get("cached_prompt_tokens"):
                self._note(f"{where}prefix-cache hit: {f['cached_prompt_tokens']} prompt tokens came from the server's cache "
                           "(TTFT and prefill are not cold figures)", "warning")
            if f["generated_tokens"] > f["chunks"]:
                self._note(f"{where}{f['generated_tokens']} tokens ({f['tokens_source']}) arrived in {f['chunks']} chunks: "
                           "some chunks carried several tokens", "warning")
        problems = []
        for s, f in done:
            where = f"stream {s.sid}: " if len(streams) > 1 else ""
            if not s.chunks and not f["generated_tokens"]:
                problems.append(f"{where}no tokens came back (finish_reason {s.finish_reason})")
            elif f["generated_tokens"] < spec.max_tokens:
                problems.append(f"{where}{f['generated_tokens']} of {spec.max_tokens} tokens (finish_reason {s.finish_reason})")
            elif s.finish_reason is None and not s.saw_done:
                problems.append(f"{where}the stream ended without a finish_reason or [DONE]")
        if not any(s.chunks for s in streams) and not any(f["generated_tokens"] for f in per):
            return st.UNRECOGNISED, "; ".join(problems) or "no tokens came back", False
        if problems:
            return st.PARTIAL, "; ".join(problems), False
        return st.OK, None, False

    # -- the server ---------------------------------------------------------------------------
    def _end_server(self) -> RunResult:
        assert self.server is not None
        if not self.server._done.is_set():
            self.server.cancel("the run is over: orintui stops the server it started", st.OK, by_user=False)
        result = self.server.wait(3 * 3.0 + 10)
        return result or RunResult(st.FAILED, None, None, "the server did not end")


def _numbers(obj: dict[str, Any]) -> dict[str, Any]:
    """A server's object (usage, timings, Ollama's last line) with only what a figure can be made of:
    finite floats and ints within int64, not bools (a 400-digit count would overflow a float), and its
    objects one level down the same (usage.prompt_tokens_details)."""
    return {k: {k2: v2 for k2, v2 in v.items() if number(v2)} if type(v) is dict else v
            for k, v in obj.items() if type(v) is dict or number(v)}


def _holdable(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures with any a session file cannot hold (an infinity, a count beyond int64) as None."""
    return {k: v if k == "streams" or check_summary({k: v}, "") is None else None for k, v in figures.items()}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return round(float(value), 6) if value == value and abs(value) != float("inf") else None


def spec_from_run(spec: Any) -> EndpointSpec:
    """The endpoint part of a scenario's RunSpec."""
    return EndpointSpec(url=spec.url, server=list(spec.server) if spec.server else None, env=dict(spec.env), cwd=spec.cwd,
                        api=spec.api, prompt=spec.prompt if spec.prompt is not None else DEFAULT_PROMPT,
                        max_tokens=spec.max_tokens, concurrency=spec.concurrency, warmup_requests=spec.warmup_requests,
                        request=dict(spec.request), idle_timeout=spec.idle_timeout, total_timeout=spec.total_timeout,
                        ready_timeout=spec.ready_timeout)
