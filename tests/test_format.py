"""The one formatting module: figures, repetition tags, rates and the telemetry line."""

from __future__ import annotations

from orintui.core.format import fmt, rate, ratio, repetition_tag, telemetry_line


def test_figures_and_tags():
    assert fmt(None) == fmt(float("nan")) == "n/a" and fmt(1234.5678) == "1,234.57" and fmt(0.0, 1) == "0.0"
    assert ratio(50.0, 200.0) == "0.25x" and ratio(None, 2.0) == ratio(1.0, None) == "n/a"
    assert [repetition_tag(0, True, 3), repetition_tag(0, False, 3), repetition_tag(2, False, 3),
            repetition_tag(0, False, 1)] == [" (warm-up)", " #1", " #3", ""]
    assert rate(34.2673, rolling=True) == "34.27 tok/s rolling" and rate(684.94) == "684.94 tok/s"
    assert rate(None, rolling=True, width=6) == "    -- tok/s"


def test_telemetry_line_leaves_out_what_the_source_does_not_give():
    jetson = {"t": 1.0, "source": "tegrastats", "gpu_load_pct": 45.0, "gpu_freq_mhz": 1300.0, "emc_util_pct": 41.0,
              "emc_freq_mhz": 3199.0, "emc_bw_gbs": 83.9, "power_total_mw": 7012.0, "power_total_label": "VDD_IN",
              "power_mw": {"VDD_IN": 7012.0, "VDD_GPU_SOC": 2000.0}, "ram_used_mb": 9000.0, "ram_total_mb": 62841.0,
              "cpu_load_pct": [10.0, None, 30.0], "temp_c": {"cpu": 50.5, "gpu": 48.0}}
    assert telemetry_line(jetson) == ("tegrastats  GPU 45%@1300MHz  EMC 41%@3199MHz 83.9GB/s  cpu 50.5C  RAM 8.8/61.4GB  "
                                      "CPU 20%  7.01W (VDD_IN)  VDD_IN 7.0W VDD_GPU_SOC 2.0W")
    # the strip at 80 columns: temperature, RAM and CPU come before the rails, which may be cut
    assert telemetry_line(jetson, gauges=False) == ("tegrastats  cpu 50.5C  RAM 8.8/61.4GB  CPU 20%  power = VDD_IN  "
                                                    "VDD_IN 7.0W VDD_GPU_SOC 2.0W")
    thor = {"t": 1.0, "source": "tegrastats", "gpu_load_pct": None, "gpu_freq_mhz": 1000.0, "emc_util_pct": None,
            "power_total_mw": None, "temp_c": {}}
    assert telemetry_line(thor) == "tegrastats"  # unknown load is left out, never shown as 0
