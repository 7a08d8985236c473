"""What every workload configuration shares: Go durations both ways, canonical JSON, ``--config``
read from JSON or a file, and refusals that name each offending field."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import Field

from tradeplane.runtime.workloads.config import ConfigError, GoDuration, WorkloadConfig

pytestmark = pytest.mark.unit


class Sample(WorkloadConfig):
    """A configuration shaped like the real ones: required names, defaults, durations, nesting."""

    name: str = Field(min_length=1)
    every: GoDuration = timedelta(milliseconds=200)
    keep: GoDuration | None = timedelta(hours=168)
    tags: tuple[str, ...] = ()
    limits: dict[str, int] = Field(default_factory=dict)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("200ms", timedelta(milliseconds=200)),
        ("1500ms", timedelta(milliseconds=1500)),
        ("250us", timedelta(microseconds=250)),
        ("45s", timedelta(seconds=45)),
        ("1h30m", timedelta(minutes=90)),
        ("744h", timedelta(days=31)),
        ("0s", timedelta(0)),
    ],
)
def test_durations_read_and_write_as_go_durations(text: str, value: timedelta) -> None:
    config = Sample.build({"name": "x", "every": text})
    assert config.every == value
    written = json.loads(config.to_json())["every"]
    assert Sample.build({"name": "x", "every": written}).every == value
    assert Sample(name="x", every=value).to_json() == config.to_json()


@pytest.mark.parametrize(("value", "message"), [(5, "Go duration string"), ("5 minutes", "not a duration")])
def test_a_duration_must_be_a_go_duration_string(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=f"every: .*{message}"):
        Sample.build({"name": "x", "every": value})


def test_canonical_json_writes_every_field_sorted_and_is_stable_under_key_order() -> None:
    forwards = {"name": "a", "limits": {"b": 2, "a": 1}, "keep": None, "tags": ["t"]}
    backwards = dict(reversed(list(forwards.items())))
    backwards["limits"] = {"a": 1, "b": 2}
    text = Sample.build(forwards).to_json()
    assert text == Sample.build(backwards).to_json()
    assert text == '{"every":"200ms","keep":null,"limits":{"a":1,"b":2},"name":"a","tags":["t"]}'
    assert Sample.from_argument(text).to_json() == text


def test_overrides_apply_on_top_of_the_document() -> None:
    config = Sample.from_argument(
        '{"name": "a", "every": "1s"}', {"every": timedelta(seconds=3), "keep": None}
    )
    assert (config.name, config.every, config.keep) == ("a", timedelta(seconds=3), None)


def test_config_is_read_from_a_file_with_an_at_sign(tmp_path: Path) -> None:
    saved = tmp_path / "config.json"
    saved.write_text('{"name": "from-file"}')
    assert Sample.from_argument(f"@{saved}").name == "from-file"
    with pytest.raises(ConfigError, match=f"cannot read Sample from {tmp_path / 'absent.json'}"):
        Sample.from_argument(f"@{tmp_path / 'absent.json'}")


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("{", "Sample is not JSON"),
        ("[1]", "Sample must be a JSON object"),
        ("{}", "name: Field required"),
        ('{"name": ""}', "name: String should have at least 1 character"),
        ('{"name": "a", "nmae": "b"}', "nmae: Extra inputs are not permitted (got 'b')"),
        ('{"name": "a", "limits": {"x": "many"}}', "limits.x: Input should be a valid integer"),
    ],
)
def test_refusals_name_the_field(argument: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Sample.from_argument(argument)
    assert message in str(refused.value)
    assert "https://" not in str(refused.value)


def test_configurations_are_frozen() -> None:
    config = Sample(name="a")
    with pytest.raises(ValueError, match="frozen"):
        config.name = "b"  # type: ignore[misc]


def test_a_configuration_module_imports_without_numpy_or_sqlalchemy() -> None:
    """Reconcilers build configurations; importing one must not pull in the heavy planes."""
    code = (
        "import sys\n"
        "import tradeplane.reconcilers.ingest, tradeplane.reconcilers.dataset_build\n"
        "heavy = sorted(m for m in ('numpy', 'sqlalchemy', 'pyarrow', 'aiohttp') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
