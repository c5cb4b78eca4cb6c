"""One vocabulary of run settings: RunSettings fields drive the CLI, lab files and pipeline files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest
import typer

from edgekit.cli.main import app
from edgekit.errors import ConfigError
from edgekit.measurement import SETTING_FIELDS, RunSettings, settings_from_mapping
from edgekit.pipeline.pipeline_file import load_pipeline

#: a value different from the default, per field
OTHER = {"threads": 2, "warmup_runs": 3, "warmup_seconds": 0.25, "runs": 7, "min_seconds": 0.5, "max_seconds": 9.0,
         "pin": False, "cooldown_seconds": 1.5, "delegate": "xnnpack", "repeat": 3, "stability_tolerance": 0.1}


def _deploy_command() -> click.Command:
    group = typer.main.get_command(app)
    return group.commands["deploy"]  # type: ignore[attr-defined]


def test_every_run_setting_is_a_deploy_option_and_nothing_else_is() -> None:
    assert set(OTHER) == set(SETTING_FIELDS), "add the new field to OTHER (a non-default value)"
    params = {p.name: p for p in _deploy_command().params}
    for name, f in SETTING_FIELDS.items():
        assert name in params, f"edgekit deploy has no option for RunSettings.{name}"
        flags = params[name].opts + params[name].secondary_opts
        assert set(f.metadata["flag"].split("/")) == set(flags)


def test_deploy_options_build_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from edgekit.cli.options import settings_from_options

    assert settings_from_options({}) == RunSettings()
    assert settings_from_options(dict(OTHER)) == RunSettings(**OTHER)
    with pytest.raises(ConfigError, match="runs = 0"):
        settings_from_options({"runs": 0})
    with pytest.raises(ConfigError, match="delegate = 'tpu'"):
        settings_from_options({"delegate": "tpu"})


def test_a_pipeline_file_can_set_every_run_setting(tmp_path: Path) -> None:
    body = "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}".replace("'", '"')
                     for k, v in OTHER.items())
    p = tmp_path / "p.toml"
    p.write_text(f'[pipeline]\nout = "{tmp_path / "run"}"\n[measure]\ndevices = ["host"]\n{body}\n')
    assert load_pipeline(p).measure.settings == RunSettings(**OTHER)
    p.write_text('[measure]\nrnus = 5\n')
    with pytest.raises(ConfigError, match="unknown key 'rnus'") as err:
        load_pipeline(p)
    assert "max_seconds" in (err.value.hint or "")


def test_lab_files_and_pipelines_check_values_the_same_way() -> None:
    for bad, words in (({"runs": "many"}, "whole number"), ({"min_seconds": -1.0}, "zero or more"),
                       ({"pin": 1}, "true or false"), ({"max_seconds": float("nan")}, "a number")):
        with pytest.raises(ConfigError) as err:
            settings_from_mapping(bad, "x")
        assert words in (err.value.hint or ""), (bad, err.value.hint)
    assert dataclasses.asdict(settings_from_mapping({"threads": 4}, "x"))["threads"] == 4
