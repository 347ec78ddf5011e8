"""Files from others are hostile (io.bounded and its readers): a device, a pipe, a huge
file, a CSV field over the csv module's limit, nesting deeper than Python recurses, a
byte-order mark, negative times. Each is refused before reading too much, with the file,
the line where there is one, and the reason - exit 2 from the CLI, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuelab.cli import main
from queuelab.core import limits, scenario_toml
from queuelab.core.scenario import Scenario
from queuelab.core.validation import ScenarioError
from queuelab.io.bounded import FileRefused, read_text
from queuelab.io.keda_yaml import KedaFileError, import_scaled_object, read_yaml_file
from queuelab.io.scenario_files import load_scenario, read_times_csv, read_trace_csv
from queuelab.tuning.files import load_sweep
from queuelab.tuning.spec import SweepError


def scenario_naming(tmp_path: Path, trace: str, *, samples: bool = False) -> Path:
    p = tmp_path / "s.toml"
    body = (f'[service]\ndistribution = "empirical"\npath = "{trace}"\n' if samples
            else f'[arrivals]\nprocess = "trace"\ntrace = "{trace}"\n')
    p.write_text(body, encoding="utf-8")
    return p


@pytest.mark.parametrize("samples", [False, True])
def test_a_device_is_refused_without_reading_it(tmp_path: Path, samples: bool) -> None:
    with pytest.raises(ScenarioError, match=r"/dev/zero: a device, pipe or socket, not a "
                       r"regular file \(only regular files of at most 256 MB are read\)"):
        load_scenario(scenario_naming(tmp_path, "/dev/zero", samples=samples))


def test_a_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "trace.csv"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(scenario_naming(tmp_path, str(fifo)))


def test_a_huge_file_is_refused_by_its_size(tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as fh:  # sparse: no disk used
        fh.truncate(limits.MAX_DATA_BYTES + 1)
    with pytest.raises(ScenarioError, match=r"huge.csv: 256 MB, over the limit of 256 MB"):
        load_scenario(scenario_naming(tmp_path, str(huge)))
    scenario = tmp_path / "big.toml"
    with scenario.open("wb") as fh:
        fh.truncate(limits.MAX_SCENARIO_BYTES + 1)
    with pytest.raises(ScenarioError, match=r"big.toml: 1 MB, over the limit of 1 MB"):
        load_scenario(scenario)


def test_a_field_over_the_csv_limit_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("time\n1\n" + "9" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"t.csv: line 3: not a CSV row \(field larger"):
        read_times_csv(p, "arrivals.trace")
    with pytest.raises(ScenarioError, match=r"line 3: not a CSV row"):
        read_trace_csv(p, "arrivals.trace", 1)


def test_negative_times_are_refused_with_their_line(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("time\n1.0\n-3\n5\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"t.csv: line 3: an arrival time must be a number "
                       r"of seconds from 0 to .* \(got -3\)"):
        read_times_csv(p, "arrivals.trace")
    counts = tmp_path / "c.csv"
    counts.write_text("start,end,count\n0,10,5\n-10,0,3\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"c.csv: line 3: start must be"):
        read_trace_csv(counts, "arrivals.trace", 1)


def test_deep_nesting_is_refused_in_words() -> None:
    deep = "name = 'x'\na = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ScenarioError, match=r"file: not valid TOML: line 2: values nested "
                       r"too deeply"):
        scenario_toml.loads(deep)


def test_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    p = tmp_path / "bom.toml"
    p.write_text('name = "from Excel"\n', encoding="utf-8-sig")
    assert load_scenario(p).name == "from Excel"
    trace = tmp_path / "t.csv"
    trace.write_text("1\n2\n", encoding="utf-8-sig")
    assert read_times_csv(trace, "arrivals.trace") == (1.0, 2.0)


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    p = tmp_path / "latin.toml"
    p.write_bytes(b'name = "a"\n# caf\xe9\n')
    with pytest.raises(ScenarioError, match=r"latin.toml: line 2: not UTF-8 text \(byte 0xe9\)"):
        load_scenario(p)


def test_sweep_and_keda_files_share_the_readers(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="/dev/zero: a device"):
        load_sweep("/dev/zero")
    deep = tmp_path / "deep.toml"
    deep.write_text("format = 1\na = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n")
    with pytest.raises(SweepError, match="nested too deeply"):
        load_sweep(deep)
    with pytest.raises(KedaFileError, match="/dev/zero: a device"):
        read_yaml_file(Path("/dev/zero"))
    with pytest.raises(KedaFileError, match=r"nested too deeply|not valid YAML"):
        import_scaled_object("a: " + "[" * 3000 + "]" * 3000 + "\n", Scenario())


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_bytes_as_a_trace_are_read_or_refused_in_words(tmp_path: Path,
                                                            data: bytes) -> None:
    p = tmp_path / "any.csv"
    p.write_bytes(data)
    for read in (lambda: read_trace_csv(p, "arrivals.trace", 1),
                 lambda: read_times_csv(p, "service.path")):
        try:
            times = read()
        except ScenarioError as exc:
            assert all(str(p) in e.reason for e in exc.errors)
        else:
            assert all(0 <= t <= limits.MAX_SECONDS for t in times)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300) | st.builds(
    lambda n, k: "a = " + k * n, st.integers(0, 3000), st.sampled_from(["[", "{x=", "[{a="])))
def test_any_text_as_toml_is_read_or_refused_in_words(text: str) -> None:
    try:
        assert isinstance(scenario_toml.loads(text), Scenario)
    except ScenarioError as exc:
        assert exc.errors and all(e.path and e.reason for e in exc.errors)


def test_the_cli_exits_2_with_the_reason(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    s = scenario_naming(tmp_path, "/dev/zero")
    assert main(["scenario", "check", str(s)]) == 2
    assert main(["run", str(s), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("not a regular file") == 2 and "Traceback" not in err


def test_read_text_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match="a folder, not a regular file"):
        read_text(tmp_path, 10)
