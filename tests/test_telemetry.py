"""Telemetry: the tegrastats parser and a real child process, jtop for real and on recorded shapes,
NVML's mapping on samples recorded on an H100, psutil, and the fallback chain."""

from __future__ import annotations

import json
import os
import stat
import sys
import time

import pytest
from conftest import FIXTURES, JTOP_SERVICE, NVML, TEGRASTATS

from orintui.telemetry.base import SourceUnavailable
from orintui.telemetry.jtop_source import JtopSource, explain_jtop_error, map_jtop
from orintui.telemetry.profiles import BY_KEY, jetson_clocks_state, l4t_release, match_profile, nvpmodel_mode
from orintui.telemetry.sampler import TelemetrySampler
from orintui.telemetry.tegrastats import parse_line

TEG = FIXTURES / "tegrastats"


def line(name):
    return (TEG / name).read_text().splitlines()[0]


def test_agx_orin_line():
    s = parse_line(line("agx-orin-r36.4.4.txt"), BY_KEY["agx-orin-64gb"])
    assert s["ram_used_mb"] == 18207 and s["ram_total_mb"] == 62841
    assert len(s["cpu_load_pct"]) == 12 and s["cpu_load_pct"][0] == 14
    assert s["emc_util_pct"] == 3 and s["emc_freq_mhz"] == 2133
    assert s["emc_bw_gbs"] == pytest.approx(0.03 * 2133 * 0.064)
    assert s["gpu_load_pct"] == 0 and s["gpu_freq_mhz"] == 0
    assert s["power_mw"] == {"VDD_GPU_SOC": 2412, "VDD_CPU_CV": 1607, "VIN_SYS_5V0": 4707}
    assert s["power_total_mw"] == 2412 + 1607 + 4707
    assert s["power_total_label"] == "sum of VDD_CPU_CV+VDD_GPU_SOC+VIN_SYS_5V0"
    assert s["temp_c"]["tj"] == 52.562 and "NVENC" not in s["power_mw"]


def test_orin_nano_uses_the_input_rail():
    s = parse_line(line("orin-nano-jp6.txt"), BY_KEY["orin-nano-8gb"])
    assert s["power_total_mw"] == 7012 and s["power_total_label"] == "VDD_IN"
    assert s["gpu_load_pct"] == 61 and s["gpu_freq_mhz"] == 624
    assert s["cpu_load_pct"][-2:] == [None, None]  # offline cores are null, not 0
    assert s["emc_bw_gbs"] == pytest.approx(0.14 * 2133 * 0.032)


def test_jetpack4_unitless_power_and_no_timestamp():
    s = parse_line(line("jetpack4-nano.txt"), BY_KEY["nano"])
    assert s["power_mw"] == {"POM_5V_IN": 2559, "POM_5V_GPU": 0, "POM_5V_CPU": 442}
    assert s["power_total_mw"] == 2559 and s["power_total_label"] == "POM_5V_IN"
    assert s["gpu_freq_mhz"] == 76 and s["emc_freq_mhz"] == 1600
    assert "IRAM" not in s["power_mw"] and s["temp_c"]["PMIC"] == 100


def test_jetpack5_two_gpcs_nc_rails_and_offline_sensors():
    s = parse_line(line("jetpack5-agx-orin.txt"), BY_KEY["agx-orin-32gb"])
    assert s["gpu_load_pct"] == 7 and s["gpu_freq_mhz"] == 306
    assert "NC" not in s["power_mw"] and s["power_mw"]["VDDQ_VDD2_1V8AO"] == 403
    assert "CV0" not in s["temp_c"] and s["temp_c"]["GPU"] == 40.593


def test_jetpack7_three_power_values():
    s = parse_line(line("jetpack7-thor.txt"), BY_KEY["thor"])
    assert s["power_mw"] == {"VDD_GPU": 4800, "VDD_CPU_SOC_MSS": 9000, "VIN_SYS_5V0": 6000}
    assert s["gpu_freq_mhz"] == 1575 and len(s["cpu_load_pct"]) == 14
    assert s["emc_bw_gbs"] == pytest.approx(0.05 * 4266 * 0.064)


def test_not_root_has_no_emc_and_bare_gpu_load():
    s = parse_line(line("agx-orin-not-root.txt"), BY_KEY["agx-orin-64gb"])
    assert s["emc_util_pct"] is None and s["emc_freq_mhz"] is None and s["emc_bw_gbs"] is None
    assert s["gpu_load_pct"] == 0 and s["gpu_freq_mhz"] is None
    assert "soc0" not in s["temp_c"]


def test_bare_emc_percent_and_unknown_board():
    s = parse_line("RAM 1/2MB EMC_FREQ 40% GR3D_FREQ 10%@[100]", None)
    assert s["emc_util_pct"] == 40 and s["emc_freq_mhz"] is None and s["emc_bw_gbs"] is None
    assert parse_line("not a tegrastats line") is None


def test_profiles_and_host_fact_parsers():
    assert match_profile("NVIDIA Jetson AGX Orin Developer Kit", 62841).key == "agx-orin-64gb"
    assert match_profile("NVIDIA Jetson AGX Orin", 30536).key == "agx-orin-32gb"
    assert match_profile("NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", 7620).key == "orin-nano-8gb-super"
    assert match_profile("NVIDIA Jetson Orin Nano Developer Kit", 3700).key == "orin-nano-4gb"
    assert match_profile("Some PC", 1000) is None
    assert BY_KEY["agx-orin-64gb"].peak_bandwidth_gbs == 204.8
    assert l4t_release("# R36 (release), REVISION: 4.4, GCID: 41062509, BOARD: generic") == "36.4.4"
    assert nvpmodel_mode("NV Power Mode: MAXN\n0") == "MAXN"
    assert jetson_clocks_state("cpu0: Online=1 Governor=schedutil MinFreq=2201600 MaxFreq=2201600 CurrentFreq=2201600") == "ON"
    assert jetson_clocks_state("cpu0: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=2201600 CurrentFreq=2201600") == "OFF"


@pytest.fixture
def fake_tegrastats(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "tegrastats"
    exe.write_text(f"#!{sys.executable}\n" + (FIXTURES / "fake_tegrastats.py").read_text())
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    def use(name, die_after=0):
        monkeypatch.setenv("FAKE_TEGRASTATS_LINES", str(TEG / name))
        monkeypatch.setenv("FAKE_TEGRASTATS_DIE_AFTER", str(die_after))
        monkeypatch.setenv("FAKE_TEGRASTATS_ARGV", str(tmp_path / "tegrastats-argv.json"))
        return tmp_path / "tegrastats-argv.json"  # what the sampler started tegrastats with
    return use


def samples_of(events):
    return [e for e in events if e["kind"] == "telemetry"]


def collect(preference, profile=None, until=lambda events: len(samples_of(events)) >= 1, timeout=30.0):
    """Sample at 0.1 s until ``until(events)`` holds (a condition, not a fixed time)."""
    events, t0 = [], time.monotonic()
    sampler = TelemetrySampler(preference, 0.1, events.append, lambda: time.monotonic() - t0, profile,
                               mono_to_session=lambda m: m - t0)
    if JTOP_SERVICE:  # a Jetson: its jtop would win over the fake tegrastats these tests replay
        sampler.chain = tuple(name for name in sampler.chain if name != "jtop")
    sampler.start()
    try:
        deadline = time.monotonic() + timeout
        while not until(list(events)):
            assert time.monotonic() < deadline, f"telemetry never got there: {events[-3:]}"
            time.sleep(0.02)  # polling the condition
    finally:
        sampler.stop()
    return sampler, events


@pytest.mark.parametrize("fixture, profile, rail", [
    ("agx-orin-r36.4.4.txt", "agx-orin-64gb", "VIN_SYS_5V0"),
    ("orin-nano-jp6.txt", "orin-nano-8gb", "VDD_IN"),
    ("orin-nano-8gb-beszel.txt", "orin-nano-8gb", "VDD_IN"),
    ("jetpack4-nano.txt", "nano", "POM_5V_IN"),
])
def test_tegrastats_through_a_real_child_process(fake_tegrastats, fixture, profile, rail):
    argv_file = fake_tegrastats(fixture)
    sampler, events = collect("auto", BY_KEY[profile], until=lambda events: len(samples_of(events)) >= 6)
    samples = samples_of(events)
    assert JTOP_SERVICE or sampler.skipped["jtop"].startswith("jtop service is not active")
    # the 0.1 s interval handed on (tegrastats' own default is 1 s): read from what it was started with, not
    # from the gaps between samples, which a busy machine bunches into one read or stretches
    argv = json.loads(argv_file.read_text())
    assert argv[argv.index("--interval") + 1] == "100", argv
    assert all(s["source"] == "tegrastats" for s in samples)
    expected = parse_line(line(fixture), BY_KEY[profile])
    assert samples[0]["power_mw"] == expected["power_mw"] and rail in samples[0]["power_mw"]
    assert samples[0]["emc_bw_gbs"] == expected["emc_bw_gbs"]


def test_source_dying_mid_session_hands_over(fake_tegrastats):
    fake_tegrastats("agx-orin-r36.4.4.txt", die_after=4)
    sampler, events = collect("auto", BY_KEY["agx-orin-64gb"],
                              until=lambda events: any(s["source"] == "psutil" for s in samples_of(events)))
    sources = [e["source"] for e in events if e["kind"] == "telemetry"]
    notes = [e for e in events if e["kind"] == "note"]
    assert sources[:4] == ["tegrastats"] * 4 and sources[-1] == "psutil"
    assert notes and "tegrastats died" in notes[0]["text"] and "now: psutil" in notes[0]["text"]
    assert "died mid-session" in sampler.skipped["tegrastats"]


@pytest.mark.skipif(JTOP_SERVICE, reason="the jtop service runs here (a Jetson): jtop opens")
def test_jtop_for_real_falls_back_with_the_reason():
    with pytest.raises(SourceUnavailable, match="jtop service is not active"):
        JtopSource(0.5).open()
    import multiprocessing  # importing jtop forced 'fork': the reason it is imported lazily
    assert multiprocessing.get_start_method(allow_none=True) in (None, "fork")


def test_jtop_error_explanations():
    assert "does not match the jtop service 4.2.12" in explain_jtop_error(
        "Mismatch version jtop service: [4.2.12] and client: [4.3.2]. Please run:\n\nsudo pip3 install ...")
    assert "no permission" in explain_jtop_error("I can't access jtop.service.\nPlease logout or reboot this board.")


def test_jtop_mapping_on_recorded_shapes():
    shapes = json.loads((FIXTURES / "jtop" / "agx-orin-jp6.json").read_text())
    s = map_jtop(shapes["stats"], shapes["gpu"], shapes["memory"], shapes["power"], shapes["temperature"],
                 BY_KEY["agx-orin-64gb"])
    assert s["gpu_load_pct"] == 98.5 and s["gpu_freq_mhz"] == 1300.5
    assert s["emc_freq_mhz"] == 3199 and s["emc_util_pct"] is None  # val stuck at 0 on JetPack 6: n/a
    assert s["ram_used_mb"] == pytest.approx(18207000 / 1024)
    assert s["cpu_load_pct"][:2] == [14.0, 5.0] and s["cpu_load_pct"][-1] is None
    assert s["power_mw"] == {"VDD_GPU_SOC": 12412.0, "VDD_CPU_CV": 1607.0, "VIN_SYS_5V0": 4707.0}
    assert "CV0" not in s["temp_c"] and s["temp_c"]["tj"] == 61.5


def test_nvml_mapping_on_samples_recorded_on_an_h100():
    rows = [json.loads(x) for x in (FIXTURES / "nvml" / "h100-telemetry.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and all(r["source"] == "nvml" for r in rows)
    busy = [r for r in rows if r["gpu_load_pct"] and r["gpu_load_pct"] > 50]
    assert busy, "the fixture was recorded under load"
    for r in rows:
        assert r["power_total_mw"] > 0 and r["power_total_label"].startswith("GPU board power")
        assert r["emc_freq_mhz"] == 2619 and r["energy_mj"] > 0


def test_psutil_only(tmp_path, cli):
    r = cli("telemetry", "--source", "psutil", "--count", "3", "--interval", "0.1", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 3 and rows[0]["source"] == "psutil" and rows[0]["ram_total_mb"] > 0
    assert rows[0]["power_total_mw"] is None and rows[0]["gpu_load_pct"] is None  # unknown, never 0
    # times to the microsecond, as a session keeps them (the event constructors leave them as given)
    assert all(r["t"] == round(r["t"], 6) for r in rows), [r["t"] for r in rows]


@pytest.mark.skipif(JTOP_SERVICE, reason="the jtop service runs here (a Jetson): jtop opens")
def test_unavailable_source_exits_1_with_reason(cli):
    r = cli("telemetry", "--source", "jtop", "--count", "1")
    assert r.returncode == 1 and "jtop service is not active" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_doctor_json(cli):
    r = cli("doctor", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    expected = "jtop" if JTOP_SERVICE else "tegrastats" if TEGRASTATS else "nvml" if NVML else "psutil"
    assert d["telemetry_source"] == expected, d["sources"]
    assert JTOP_SERVICE or (d["sources"]["jtop"]["works"] is False and "not active" in d["sources"]["jtop"]["reason"])
    assert d["host"]["hostname"]


# -- JetPack 7.2, Thor, containers (issue 14) ----------------------------------------------------
def test_jetpack72_agx_orin_real_line():
    s = parse_line(line("jp72-agx-orin-jtop.txt"), BY_KEY["agx-orin-64gb"])
    assert s["gpu_load_pct"] == 12 and s["gpu_freq_mhz"] == 1300
    assert s["emc_util_pct"] == 3 and s["emc_freq_mhz"] == 3199
    assert s["emc_bw_gbs"] == pytest.approx(0.03 * 3199 * 0.064)
    assert s["power_mw"] == {"VDD_GPU_SOC": 5139, "VDD_CPU_CV": 3268, "VIN_SYS_5V0": 5500}
    assert s["power_total_mw"] == 5139 + 3268 + 5500
    assert s["temp_c"]["cpu"] == 52.968 and s["temp_c"]["gpu"] == 47.625  # cur/max: the current one
    assert len(s["cpu_load_pct"]) == 12 and s["ram_total_mb"] == 62817


def test_thor_line_has_gpu_clock_but_no_load():
    s = parse_line(line("thor-jtop.txt"), BY_KEY["thor"])
    assert s["gpu_load_pct"] is None and s["gpu_freq_mhz"] == 1000  # unknown load, never 0
    assert s["emc_util_pct"] == 2 and s["emc_freq_mhz"] == 1866
    s = parse_line("RAM 9000/125000MB EMC_FREQ @4266 GR3D_FREQ @[1000,1000,1000] VDD_GPU 4800mW/4800mW/4800mW")
    assert s["emc_util_pct"] is None and s["emc_freq_mhz"] == 4266 and s["emc_bw_gbs"] is None


def test_jetson_stats_emulator_orin_lines():
    s = parse_line(line("agx-orin-32gb-jp5-jtop-emulator.txt"), BY_KEY["agx-orin-32gb"])
    assert s["gpu_load_pct"] == 37 and s["emc_freq_mhz"] == 204 and "NC" not in s["power_mw"]
    s = parse_line(line("agx-orin-32gb-not-root-jtop-emulator.txt"), BY_KEY["agx-orin-32gb"])
    assert s["emc_util_pct"] == 0 and s["emc_freq_mhz"] is None and s["emc_bw_gbs"] is None
    assert s["gpu_load_pct"] == 37 and s["gpu_freq_mhz"] is None and s["power_mw"] == {}


@pytest.mark.parametrize("name, key, said", [
    ("agx-orin-r36.4.4.txt", "agx-orin-64gb", "12 CPUs, RAM 62841 MB"),
    ("jp72-agx-orin-jtop.txt", "agx-orin-64gb", "2 GPC clocks"),
    ("thor-jtop.txt", "thor", "3 GPC clocks"),
    ("jetpack7-thor.txt", "thor", "VDD_CPU_SOC_MSS"),
    ("orin-nano-jp6.txt", "orin-nano-8gb", "Orin NX 8GB has the same shape"),
    ("agx-orin-32gb-not-root-jtop-emulator.txt", "agx-orin-32gb", "AGX Xavier 32GB has the same shape"),
    ("jetpack4-nano.txt", "nano", "POM_5V_IN"),
])
def test_masked_device_tree_identifies_the_board_from_the_line(tmp_path, name, key, said):
    from orintui.telemetry.profiles import identify_board
    from orintui.telemetry.tegrastats import line_shape

    profile, how = identify_board(tmp_path, line_shape(line(name)))  # an empty folder: no /proc, no /etc
    assert profile is not None and profile.key == key
    assert how.startswith("tegrastats line shape") and said in how


def test_nv_tegra_release_and_device_tree_under_a_root(tmp_path):
    from orintui.telemetry.profiles import host_facts, identify_board, jetpack_of
    from orintui.telemetry.tegrastats import line_shape

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nv_tegra_release").write_text(
        "# R39 (release), REVISION: 2.0, GCID: 1, BOARD: generic, EABI: aarch64, DATE: x\n")
    profile, how = identify_board(tmp_path, line_shape(line("jp72-agx-orin-jtop.txt")))
    assert profile.key == "agx-orin-64gb" and "L4T 39.2.0" in how and jetpack_of("39.2.0") == "7.2"
    facts = host_facts(tmp_path)
    assert facts["l4t"] == "39.2.0" and facts["model"] is None and facts["profile"] is None
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/device-tree/model").write_text("NVIDIA Jetson AGX Orin Developer Kit\x00")
    profile, how = identify_board(tmp_path, None, 62841)
    assert profile.key == "agx-orin-64gb" and how == "device tree model 'NVIDIA Jetson AGX Orin Developer Kit'"
    assert identify_board(tmp_path / "nothing")[0] is None
    assert profile_from_shape_none()


def profile_from_shape_none():
    from orintui.telemetry.profiles import profile_from_shape

    profile, how = profile_from_shape({"cpus": 64, "ram_total_mb": 500000, "rails": []})
    return profile is None and "no known board" in how


def test_unknown_profile_tegrastats_child_still_gives_emc_bandwidth(fake_tegrastats):
    """Issue 14: a JetPack 6 AGX Orin line 'EMC_FREQ 41%@3199' on a machine whose profile is unknown
    (a container) gave emc_bw_gbs null; through the real child path it gives 83.9 GB/s."""
    fake_tegrastats("agx-orin-jp6-emc41.txt")
    sampler, events = collect("tegrastats", profile=None)
    samples = [e for e in events if e["kind"] == "telemetry"]
    notes = [e["text"] for e in events if e["kind"] == "note"]
    assert samples and all(s["source"] == "tegrastats" for s in samples)
    assert round(samples[0]["emc_bw_gbs"], 1) == 83.9 and samples[0]["emc_freq_mhz"] == 3199
    assert notes[0].startswith("board identified as Jetson AGX Orin 64GB from tegrastats line shape (12 CPUs")


@pytest.mark.parametrize("name, check", [
    ("jp72-agx-orin-jtop.txt", lambda s: s["gpu_load_pct"] == 12 and s["power_total_mw"] == 13907),
    ("thor-jtop.txt", lambda s: s["gpu_load_pct"] is None and s["gpu_freq_mhz"] == 1000
     and s["fields_from"] == "cpu_load_pct=psutil"),
    ("orin-nano-jp6.txt", lambda s: s["power_total_label"] == "VDD_IN"),
    ("agx-orin-32gb-not-root-jtop-emulator.txt", lambda s: s["emc_bw_gbs"] is None and s["gpu_load_pct"] == 37),
    ("agx-orin-r36.4.4.txt", lambda s: s["emc_bw_gbs"] == pytest.approx(0.03 * 2133 * 0.064)),
])
def test_every_variant_through_the_tegrastats_child(fake_tegrastats, name, check):
    fake_tegrastats(name)
    sampler, events = collect("tegrastats", profile=None)
    samples = [e for e in events if e["kind"] == "telemetry"]
    assert samples and check(samples[0]), samples[0]
    assert "fields_from" not in samples[0] or name == "thor-jtop.txt"  # per-field provenance where borrowed


# -- NVML on recorded shapes ------------------------------------------------------------------------
@pytest.fixture
def fake_pynvml(monkeypatch):
    import types

    shapes = json.loads((FIXTURES / "nvml" / "jetson-shapes.json").read_text())

    def install(shape_name, captured=None):
        """A stand-in pynvml answering a recorded shape, or ``captured``: {"name", "driver",
        "answers"} as a real GPU answered (field 186 included)."""
        device = captured or shapes[shape_name]
        shape = device["answers"]
        nv = types.ModuleType("pynvml")

        class NVMLError(Exception):
            pass

        class NVMLError_NotSupported(NVMLError):
            def __str__(self):
                return "Not Supported"

        nv.NVMLError, nv.NVMLError_NotSupported = NVMLError, NVMLError_NotSupported
        nv.NVML_CLOCK_SM, nv.NVML_CLOCK_MEM, nv.NVML_TEMPERATURE_GPU, nv.NVML_SUCCESS = 1, 2, 0, 0

        def answer(key, wrap=None):
            def fn(*args):
                value = shape[key]
                if value == "NotSupported":
                    raise NVMLError_NotSupported()
                return wrap(value) if wrap else value
            return fn

        nv.nvmlInit = nv.nvmlShutdown = lambda: None
        nv.nvmlDeviceGetCount = lambda: 1
        nv.nvmlDeviceGetHandleByIndex = lambda i: object()
        nv.nvmlDeviceGetName = lambda h: device["name"]
        nv.nvmlSystemGetDriverVersion = lambda: device["driver"]
        nv.nvmlDeviceGetUtilizationRates = answer("utilisation", lambda v: types.SimpleNamespace(**v))
        nv.nvmlDeviceGetClockInfo = lambda h, c: answer("sm_clock" if c == 1 else "mem_clock")(h)
        nv.nvmlDeviceGetMaxClockInfo = lambda h, c: answer("max_mem_clock")(h)
        nv.nvmlDeviceGetMemoryBusWidth = answer("bus_width")
        nv.nvmlDeviceGetPowerUsage = answer("power")
        nv.nvmlDeviceGetTotalEnergyConsumption = answer("energy")
        nv.nvmlDeviceGetTemperature = lambda h, k: answer("temperature")(h)
        nv.nvmlDeviceGetMemoryInfo = answer("memory", lambda v: types.SimpleNamespace(**v))
        if "clocks_event_reasons" in shape:  # absent: a pynvml too old to have the function
            nv.nvmlDeviceGetCurrentClocksEventReasons = answer("clocks_event_reasons")
        if "field_186" in shape:  # as nvml returns it: one c_nvmlFieldValue_t per field id asked for
            field = shape["field_186"]
            nv.nvmlDeviceGetFieldValues = lambda h, ids: [types.SimpleNamespace(
                nvmlReturn=field["nvmlReturn"], value=types.SimpleNamespace(uiVal=field["uiVal"]))]
        else:
            nv.nvmlDeviceGetFieldValues = answer("field_values")
        monkeypatch.setitem(sys.modules, "pynvml", nv)
    return install


def test_nvml_that_only_names_the_gpu_is_skipped_with_its_reason(fake_pynvml):
    from orintui.telemetry.nvml import NvmlSource

    fake_pynvml("jp72-agx-orin")
    with pytest.raises(SourceUnavailable, match=r"names Orin \(nvgpu\) but answers Not Supported"):
        NvmlSource(0.1).open()
    events = []
    sampler = TelemetrySampler("auto", 0.1, events.append, time.monotonic)
    sampler.chain = ("nvml", "psutil")
    assert sampler.open().name == "psutil"
    assert "JetPack 7.2 on Orin does this" in sampler.skipped["nvml"]


def test_nvml_on_thor_gives_utilisation_and_leaves_the_rest_unknown(fake_pynvml):
    from orintui.telemetry.nvml import NvmlSource

    fake_pynvml("thor")
    source = NvmlSource(0.1)
    source.open()
    s = source.read()
    assert s["gpu_load_pct"] == 37 and s["gpu_freq_mhz"] == 1575
    assert s["power_total_mw"] is None and s["temp_c"] == {} and s["emc_bw_gbs"] is None


def test_nvml_bandwidth_uses_the_current_memory_clock(fake_pynvml):
    from orintui.telemetry.nvml import NvmlSource

    fake_pynvml("h100-idle-clock")
    source = NvmlSource(0.1)
    source.open()
    s = source.read()
    assert source.facts["peak_bandwidth_gbs"] == pytest.approx(2619 * 2 * 640 / 1000, abs=0.1)
    assert s["emc_bw_gbs"] == pytest.approx(0.35 * 1300 * 2 * 640 / 1000)  # not 35% of the 2619 MHz peak
    assert s["power_total_label"] == "GPU board power (1 s average)" and s["energy_mj"] == 123456789


@pytest.mark.parametrize("state", ["idle", "load"])
def test_nvml_source_read_on_answers_captured_from_an_h100(fake_pynvml, state):
    """NvmlSource.read itself, on what a real H100 answered (the EMC clock bug got in while only a
    fixture of its output was tested). REFERENCE.md: GB/s = memory busy % x current memory clock x 2
    transfers x bus bytes; at 100% of HBM3's 2619 MHz on 5120 bits that is the H100's 3.35 TB/s peak."""
    from orintui.telemetry.nvml import NvmlSource

    doc = json.loads((FIXTURES / "nvml" / "h100-pynvml-captured.json").read_text())
    raw = doc[state]
    fake_pynvml(None, {"name": doc["name"], "driver": doc["driver"], "answers": raw})
    source = NvmlSource(0.1)
    source.open()
    s = source.read()
    source.close()
    peak = 2619e6 * 2 * (5120 / 8) / 1e9
    assert source.facts["gpu_name"] == "NVIDIA H100 80GB HBM3" and source.facts["peak_bandwidth_gbs"] == round(peak, 1) == 3352.3
    busy = raw["utilisation"]["memory"] / 100
    assert s["emc_util_pct"] == raw["utilisation"]["memory"] and s["emc_freq_mhz"] == raw["mem_clock"]
    assert s["emc_bw_gbs"] == pytest.approx(busy * raw["mem_clock"] * 1e6 * 2 * 640 / 1e9)
    assert s["emc_bw_gbs"] == (pytest.approx(peak) if state == "load" else 0.0)  # busy memory is the peak; idle is 0, not unknown
    assert s["gpu_load_pct"] == raw["utilisation"]["gpu"] and s["gpu_freq_mhz"] == raw["sm_clock"]
    assert s["power_total_mw"] == raw["field_186"]["uiVal"] and s["power_total_label"] == "GPU board power (instant)"
    assert s["power_mw"] == {"GPU": raw["field_186"]["uiVal"]} and s["energy_mj"] == raw["energy"]
    assert s["temp_c"] == {"GPU": raw["temperature"]} and s["gpu_mem_used_mb"] == raw["memory"]["used"] / 2**20


def test_nvml_throttled_comes_from_the_clock_event_reasons_an_h100_answered(fake_pynvml):
    """What a real H100 answered to nvmlDeviceGetCurrentClocksEventReasons, through NvmlSource.read: idle
    (GpuIdle) is no throttling; under fp16 matmuls the software power cap (0x4) held the SM clock near
    1300 MHz: throttled, and the run's throttled flag says so. A pynvml without the query: no field."""
    from orintui.figures.metrics import window_telemetry
    from orintui.telemetry.nvml import NvmlSource

    base = json.loads((FIXTURES / "nvml" / "h100-pynvml-captured.json").read_text())
    doc = json.loads((FIXTURES / "nvml" / "h100-clocks-event-reasons.json").read_text())
    seen = []
    for snap in doc["idle"] + doc["load"]:
        answers = {**base["load"], "sm_clock": snap["sm_clock"], "temperature": snap["temperature"],
                   "clocks_event_reasons": snap["nvmlDeviceGetCurrentClocksEventReasons"]}
        fake_pynvml(None, {"name": doc["name"], "driver": doc["driver"], "answers": answers})
        source = NvmlSource(0.1)
        source.open()
        s = source.read()
        source.close()
        seen.append((snap["nvmlDeviceGetCurrentClocksEventReasons"], s["gpu_freq_mhz"], s["throttled"]))
    assert {(r, t) for r, _, t in seen} == {(1, False), (0, False), (4, True)}
    assert all(mhz < 1400 for _, mhz, t in seen if t) and max(mhz for _, mhz, t in seen if not t) == 1980
    samples = [{"t": float(i), "throttled": t} for i, (_, _, t) in enumerate(seen)]
    assert window_telemetry(samples, (0.0, 3.0)).throttled is False  # idle, then the uncapped first load sample
    assert window_telemetry(samples, (3.0, 15.0)).throttled is True
    fake_pynvml(None, {"name": doc["name"], "driver": doc["driver"], "answers": base["load"]})
    source = NvmlSource(0.1)
    source.open()
    assert "throttled" not in source.read()


def test_thor_gpu_load_comes_from_nvml_and_says_so(fake_tegrastats, fake_pynvml):
    fake_tegrastats("thor-jtop.txt")
    fake_pynvml("thor")
    sampler, events = collect("tegrastats")
    samples = [e for e in events if e["kind"] == "telemetry"]
    assert samples and samples[0]["source"] == "tegrastats" and samples[0]["gpu_freq_mhz"] == 1000
    assert samples[0]["gpu_load_pct"] == 37
    assert samples[0]["fields_from"] == "gpu_load_pct=nvml,cpu_load_pct=psutil"


def test_thor_gpu_load_stays_unknown_where_nvml_only_names_the_gpu(fake_tegrastats, fake_pynvml):
    fake_tegrastats("thor-jtop.txt")
    fake_pynvml("jp72-agx-orin")
    sampler, events = collect("tegrastats")
    samples = [e for e in events if e["kind"] == "telemetry"]
    assert samples and all(s["gpu_load_pct"] is None for s in samples)
    assert samples[0]["fields_from"] == "cpu_load_pct=psutil"


def test_thor_emc_clock_from_bwmgr_when_tegrastats_leaves_it_out(tmp_path):
    import queue

    from orintui.telemetry.tegrastats import TegrastatsLineParser

    (tmp_path / "sys/class/devfreq/bwmgr").mkdir(parents=True)
    (tmp_path / "sys/class/devfreq/bwmgr/cur_freq").write_text("4266000000\n")
    sink = queue.Queue()
    parser = TegrastatsLineParser(sink, BY_KEY["thor"], str(tmp_path))
    parser.feed("RAM 9000/125000MB EMC_FREQ 12% GR3D_FREQ @[1000,1000,1000]\n", 1.0)
    s = sink.get_nowait()
    assert s["emc_freq_mhz"] == 4266 and s["fields_from"] == "emc_freq_mhz=bwmgr"
    assert s["emc_bw_gbs"] == pytest.approx(0.12 * 4266 * 0.064)
    parser = TegrastatsLineParser(sink, BY_KEY["thor"], str(tmp_path / "masked"))
    parser.feed("RAM 9000/125000MB EMC_FREQ 12% GR3D_FREQ @[1000,1000,1000]\n", 1.0)
    assert sink.get_nowait()["emc_freq_mhz"] is None  # not there: unknown


def test_doctor_names_the_board_from_the_tegrastats_line_when_the_device_tree_is_hidden(fake_tegrastats):
    from orintui.telemetry.doctor import diagnose

    fake_tegrastats("jp72-agx-orin-jtop.txt")
    report = diagnose()
    assert report["sources"]["tegrastats"]["works"]
    assert report["sources"]["tegrastats"]["identified"].startswith("tegrastats line shape (12 CPUs, RAM 62817 MB")
    assert report["profile"]["key"] == "agx-orin-64gb" and report["host"]["peak_bandwidth_gbs"] == 204.8


def test_every_run_gets_an_idle_baseline_where_the_source_measures_power(fake_tegrastats, tmp_path):
    """Back-to-back runs: with a power source, orintui samples the moment before each run long
    enough for its idle baseline (a real tegrastats child replaying captured JetPack 6 lines)."""
    from conftest import run_cli

    from orintui.figures.metrics import session_metrics
    from orintui.session import load_session

    fake_tegrastats("agx-orin-r36.4.4.txt")
    steady = FIXTURES / "fake_backends" / "steady.py"
    scenario = tmp_path / "two.toml"
    scenario.write_text(f'name = "two"\n[[runs]]\nlabel = "a"\nbackend = "tinygrad-llm"\n'
                        f'argv = ["{sys.executable}", "{steady}", "30", "20", "--benchmark", "30"]\nrepetitions = 2\n')
    out = tmp_path / "s.json"
    proc = run_cli("run", str(scenario), "--headless", "--telemetry", "tegrastats", "--interval", "0.2",
                   "--out", str(out), env={"PATH": os.environ["PATH"]}, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    metrics = session_metrics(load_session(out))
    assert [m.idle_power_w is not None for m in metrics] == [True, True], [m.energy_na for m in metrics]
    assert all(m.marginal_j_per_token is not None for m in metrics)


def test_cuda_version_from_the_toolkit_folder(tmp_path):
    """JetPack's /usr/local/cuda/version.json (the real file's shape), or an old version.txt."""
    from orintui.telemetry.profiles import cuda_version, host_facts

    cuda = tmp_path / "usr" / "local" / "cuda"
    cuda.mkdir(parents=True)
    assert cuda_version(cuda) is None and host_facts(tmp_path)["cuda"] is None
    (cuda / "version.txt").write_text("CUDA Version 10.2.300\n")
    assert cuda_version(cuda) == "10.2.300"
    (cuda / "version.json").write_text('{"cuda": {"name": "CUDA SDK", "version": "12.6.68"}, "cuda_cudart": {}}')
    assert host_facts(tmp_path)["cuda"] == "12.6.68"


def test_real_orin_nano_lines_by_hand():
    """Two Orin Nano 8GB lines users captured (tests/fixtures/tegrastats/README.md): root and not root."""
    root, not_root = (TEG / "orin-nano-8gb-beszel.txt").read_text().splitlines()
    s = parse_line(root, BY_KEY["orin-nano-8gb"])
    assert (s["gpu_load_pct"], s["gpu_freq_mhz"], s["emc_util_pct"], s["emc_freq_mhz"]) == (63, 621, 43, 2133)
    assert s["emc_bw_gbs"] == pytest.approx(0.43 * 2133e6 * 2 * 16 / 1e9, abs=0.01)  # 128-bit LPDDR5: 29.35 GB/s
    assert s["power_total_mw"] == 12479 and s["power_total_label"] == "VDD_IN"
    n = parse_line(not_root, BY_KEY["orin-nano-8gb"])
    assert n["gpu_load_pct"] == 0 and n["emc_util_pct"] is None and n["emc_bw_gbs"] is None  # n/a, not 0
    assert n["power_total_mw"] == 4824
