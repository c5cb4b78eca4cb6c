"""``--store postgresql://…`` and ``EDGEKIT_STORE=postgresql://…`` in the commands that write and
read the store: deploy measures into PostgreSQL, report and store info read it back."""

from __future__ import annotations

import json

import pytest

from edgekit.cli.main import main
from edgekit.store import open_store

pytestmark = pytest.mark.postgres

QUICK = ["--runs", "3", "--warmup", "1", "--warmup-seconds", "0", "--min-seconds", "0"]


def test_deploy_and_report_on_postgres(pg_url, tiny_models, tmp_path, capsys, monkeypatch) -> None:  # noqa: ANN001
    assert main(["deploy", str(tiny_models.fp32_tflite), "--device", "host", "--store", pg_url, *QUICK,
                 "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("EDGEKIT_STORE", pg_url)  # the default store of every command
    assert main(["deploy", str(tiny_models.int8_tflite), "--device", "host", *QUICK, "--json"]) == 0
    second = json.loads(capsys.readouterr().out)

    stored = open_store(pg_url).measurements()
    assert len(stored) == 2 and {m.artifact_name for m in stored} == {"tiny_fp32", "tiny_int8"}
    assert "tiny_fp32" in json.dumps(first) and "tiny_int8" in json.dumps(second)

    assert main(["store", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["store"] == pg_url and info["measurements"] == [{"device": "host", "status": "ok", "count": 2}]

    monkeypatch.setenv("EDGEKIT_STORE", str(tmp_path / "elsewhere.sqlite"))  # --store wins over the default
    assert main(["report", "--store", pg_url, "-o", str(tmp_path / "report"), "--format", "json", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (report_json,) = doc["files"]["json"]
    text = open(report_json).read()
    assert "tiny_fp32" in text and "tiny_int8" in text


def test_a_lab_file_can_name_a_postgres_store(pg_url, tiny_models, tmp_path) -> None:  # noqa: ANN001
    from edgekit.farm.lab import Lab

    path = tmp_path / "lab.toml"
    path.write_text(f'[lab]\nname = "pg"\nstore = "{pg_url}"\n[[device]]\nname = "host"\nprofile = "host"\n'
                    f'[[job]]\nmodels = ["{tiny_models.fp32_tflite}"]\ndevices = ["host"]\n')
    lab = Lab.load(path)
    assert lab.spec.store == pg_url and lab.store.location == pg_url
    assert lab.latest_run() is None
