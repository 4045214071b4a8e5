"""`morec data ...` through typer's CliRunner, and the import-weight promise of `morec --help`."""

from __future__ import annotations

import re
import subprocess
import sys

from typer.testing import CliRunner

from morec_tui.cli import app

SEQUENCES = {f"u{user}": [str(item) for item in range(user, user + 7)] for user in range(6)}
TITLES = {str(item): f"the red cat {item}" for item in range(13)}

runner = CliRunner()


def test_info_prints_table_one_columns(tmp_path, data_root, write_pairs):
    folder = write_pairs(tmp_path / "toy", SEQUENCES, TITLES)
    result = runner.invoke(app, ["data", "info", "pairs", "--path", str(folder),
                                 "--set", "data.max_seq_len=5"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[:2]
    assert header.split() == ["dataset", "n", "m", "|R|train", "|R|valid", "|R|test",
                              "|R|train/(nm)"]
    # 6 users x 5 latest items: 18 train, 6 valid, 6 test; items 2..11 remain (10).
    # The one dataset label: folder, reader, view.
    assert row.split() == ["toy", "(pairs,", "text,", "latest", "5)", "6", "10", "18", "6", "6",
                           "30.0000%"]
    assert "latest 5 per user" in result.output


def test_set_without_section_and_bad_settings(tmp_path, data_root, write_pairs):
    folder = write_pairs(tmp_path / "toy", SEQUENCES, TITLES)
    ok = runner.invoke(app, ["data", "info", "pairs", "--path", str(folder),
                             "--set", "min_user_interactions=7"])
    assert ok.exit_code == 0, ok.output
    for override, named in [("train.lr=1", "only data.* settings"),
                            ("data.max_seq_len=two", "data.max_seq_len"),
                            ("data.bogus=1", "unknown key data.bogus")]:
        result = runner.invoke(app, ["data", "info", "pairs", "--path", str(folder),
                                     "--set", override])
        assert result.exit_code == 2
        assert result.stderr.startswith("error: ") and named in result.stderr


def test_bad_data_prints_one_error_line_and_exits_2(tmp_path, data_root):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x_users.tsv").write_text("u1 1 2 3\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "info", "pairs", "--path", str(folder)])
    assert result.exit_code == 2
    expected = f"error: {folder / 'x_users.tsv'}: line 1: expected 'user<TAB>item item ...'\n"
    assert result.stderr == expected
    unknown = runner.invoke(app, ["data", "info", "nope"])
    assert unknown.exit_code == 2 and "known: demo, pairs" in unknown.stderr
    no_path = runner.invoke(app, ["data", "info", "mind"])
    assert no_path.exit_code == 2
    assert no_path.stderr == "error: data.path: source 'mind' needs the folder of its raw files\n"


def test_prepare_builds_the_caches_asked_for(tmp_path, data_root, write_pairs, tokenizer):
    folder = write_pairs(tmp_path / "toy", SEQUENCES, TITLES)
    tokenizer.save_pretrained(tmp_path / "tok")
    result = runner.invoke(app, ["data", "prepare", "pairs", "--path", str(folder),
                                 "--tokenizer", str(tmp_path / "tok"), "--no-images"])
    assert result.exit_code == 0, result.output
    assert "tokens: " in result.output and "(13, 30)" in result.output
    assert len(list((data_root / "cache" / "toy").glob("tokens-*.npz"))) == 1
    assert not list((data_root / "cache").rglob("images-*"))


def test_the_cache_prepare_builds_is_the_one_a_run_reads(tmp_path, data_root, write_pairs,
                                                         monkeypatch):
    """`morec data prepare --tokenizer minilm-l6` (the packaged name a run's encoder.model
    takes): the run then finds the token cache and tokenizes nothing."""
    from morec_core.config import RunSpec
    from morec_core.data import tokens
    from morec_core.data.prepare import ensure_prepared, load_prepared
    from morec_core.run import build

    folder = write_pairs(tmp_path / "toy", SEQUENCES, TITLES)
    result = runner.invoke(app, ["data", "prepare", "pairs", "--path", str(folder),
                                 "--tokenizer", "minilm-l6", "--no-images"])
    assert result.exit_code == 0, result.output
    [built] = re.findall(r"tokens: (\S+)", result.output)

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("the run tokenized again: it did not find prepare's cache")

    monkeypatch.setattr(tokens, "tokenize", no_tokenizing)
    spec = RunSpec().with_overrides(["data.source=pairs", f"data.path={folder}",
                                     "encoder.name=text", "encoder.model=minilm-l6"])
    dataset = load_prepared(ensure_prepared(spec.data))
    from morec_core import paths

    inputs = build.encoder_inputs(spec, dataset, paths.content_cache_dir(dataset.name))
    assert inputs.token_ids is not None and inputs.token_ids.shape[0] == 13
    assert [str(path) for path in (data_root / "cache" / "toy").glob("tokens-*.npz")] == [built]


def test_download_of_a_manual_dataset_explains_how(data_root):
    result = runner.invoke(app, ["data", "download", "hm"])
    assert result.exit_code == 0
    assert "kaggle competitions download" in result.output
    assert runner.invoke(app, ["data", "download", "imagenet"]).exit_code == 2


def test_help_imports_neither_torch_nor_transformers_nor_pandas():
    code = ("import sys; from morec_tui.cli import app; "
            "heavy = [m for m in ('torch', 'transformers', 'pandas') if m in sys.modules]; "
            "print(','.join(heavy))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == ""
    helped = subprocess.run([sys.executable, "-m", "morec_tui.cli", "data", "--help"],
                            capture_output=True, text=True)
    assert helped.returncode == 0 and "prepare" in helped.stdout
