"""Pipeline files: the embedded default, the examples, and every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.pipeline.run import run_pipeline
from edgekit.pipeline.pipeline_file import DEFAULT_PIPELINE, load_pipeline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"


def test_embedded_default() -> None:
    cfg = load_pipeline(None)
    assert cfg.source == "<embedded default>"
    assert cfg.dataset.kind == "digits"
    assert cfg.family.widths == (0.1, 0.25, 0.5)
    assert cfg.train.recipes == ("baseline", "distillation")
    assert cfg.convert.variants == ("fp32", "int8")
    assert cfg.measure.devices == ("host",) and cfg.measure.settings.threads == 1 and cfg.measure.settings.warmup_runs > 0
    assert cfg.out_dir == Path.cwd() / "edgekit-run"


def test_the_default_example_file_is_the_embedded_default() -> None:
    path = EXAMPLES / "digits-default.toml"
    assert path.read_text(encoding="utf-8") == DEFAULT_PIPELINE
    from_file, embedded = load_pipeline(path), load_pipeline(None)
    assert from_file.train == embedded.train and from_file.family == embedded.family
    assert from_file.out_dir == EXAMPLES / "edgekit-run"     # relative to the file


@pytest.mark.parametrize("name", ["cifar10-paper.toml", "user-models.toml", "digits-lab.toml"])
def test_examples_parse(name: str) -> None:
    cfg = load_pipeline(EXAMPLES / name)
    assert cfg.source == str(EXAMPLES / name)
    if name == "user-models.toml":
        assert cfg.family.models == (str(EXAMPLES / "my_model_small.keras"), str(EXAMPLES / "my_model_large.keras"))
        assert not cfg.uses_family
    if name == "digits-lab.toml":
        assert cfg.measure.lab == str(EXAMPLES / "host-lab.toml")


def test_overrides_dotted_and_nested(tmp_path: Path) -> None:
    cfg = load_pipeline(None, {"pipeline.out": str(tmp_path), "train": {"epochs": 3}})
    assert cfg.out_dir == tmp_path and cfg.train.epochs == 3
    with pytest.raises(ConfigError, match="'epochs' in \\[train\\]|epochs = 0"):
        load_pipeline(None, {"train.epochs": 0})


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text, fragments, hint", [
    ("[train]\nepoch = 3\n", ["unknown key 'epoch' in [train]", "(value 3)"], "epochs"),
    ("[convert]\nvariants = [\"fp32\", \"int4\"]\n", ["[convert] variants has 'int4'"], "int8"),
    ("[dataset]\nkind = \"mnist\"\n", ["[dataset] kind = 'mnist'"], "digits, cifar10, npz"),
    ("[training]\nepochs = 3\n", ["unknown section [training]"], "train"),
    ("[train]\nepochs = \"ten\"\n", ["[train] epochs = 'ten'"], "whole number"),
    ("[train]\nrecipes = [\"baseline\", \"mixup\"]\n", ["has 'mixup'"], "distillation"),
    ("[family]\nwidths = [0.5, -1]\n", ["[family] widths"], "width multipliers"),
    ("[train]\ntemperature = 0\n", ["temperature = 0"], "greater than 0"),
    ("[measure]\ndevices = []\n", ["[measure] devices = []"], "host"),
    ("[measure]\nlab = \"lab.toml\"\ndevices = [\"pixel3\"]\n", ["both devices"], "lab file"),
    ("[dataset]\nkind = \"npz\"\n", ["[dataset] path = ''"], ".npz"),
    ("pipeline = 3\n", ["'pipeline' = 3 must be a table"], "[pipeline]"),
    ("[family]\nwidths = [0.5]\nmodels = [\"m.keras\"]\n", ["both widths"], "keep one"),
])
def test_bad_values_name_file_key_value_and_choices(tmp_path: Path, text: str, fragments: list[str], hint: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert str(path) in err.value.message
    for f in fragments:
        assert f in err.value.message
    assert hint in (err.value.hint or "")


def test_malformed_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, "[pipeline\nname = digits\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert "is not valid TOML" in err.value.message and str(path) in err.value.message
    assert err.value.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_pipeline(tmp_path / "nope.toml")


def test_bad_files_fail_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "run"
    bad = [
        f"[pipeline]\nout = \"{out}\"\n[convert]\nvariants = [\"fp32\", \"int3\"]\n",
        f"[pipeline]\nout = \"{out}\"\n[dataset]\nkind = \"cifar10\"\npath = \"{tmp_path / 'no-cifar'}\"\n",
        f"[pipeline]\nout = \"{out}\"\n[measure]\ndevices = [\"pixel99\"]\n",
        f"[pipeline]\nout = \"{out}\"\n[family]\nmodels = [\"{tmp_path / 'missing.keras'}\"]\n",
        f"[pipeline]\nout = \"{out}\"\n[measure]\nlab = \"{tmp_path / 'missing-lab.toml'}\"\n",
    ]
    messages = []
    for text in bad:
        with pytest.raises(ConfigError) as err:
            run_pipeline(_write(tmp_path, text))
        messages.append(err.value.message)
        assert not out.exists()            # nothing was created, nothing trained
    assert "int3" in messages[0]
    assert str(tmp_path / "no-cifar") in messages[1] and "cifar-10-python.tar.gz" in messages[1]
    assert "pixel99" in messages[2]
    assert "missing.keras" in messages[3]
    assert "missing-lab.toml" in messages[4]
