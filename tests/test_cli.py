import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from morec_tui.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_help_loads_neither_torch_nor_transformers():
    # rich too: typer's rich help formatter imports ~150 ms of it (cli.py asks for plain help).
    probe = ("import sys; from typer.testing import CliRunner; from morec_tui.cli import app; "
             "result = CliRunner().invoke(app, ['--help']); assert result.exit_code == 0, result.output; "
             "heavy = [m for m in ('torch', 'transformers', 'timm', 'textual', 'pandas', 'rich') "
             "if m in sys.modules]; "
             "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("morec ")


def command_paths() -> list[list[str]]:
    """Every command and subcommand the CLI registers, e.g. ["store", "merge"]."""
    import typer.main

    def walk(command, prefix):
        found = [prefix] if prefix else []
        for name, child in getattr(command, "commands", {}).items():
            found += walk(child, [*prefix, name])
        return found

    return walk(typer.main.get_command(app), [])


@pytest.mark.parametrize("command", command_paths(), ids=" ".join)
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_the_help_test_sees_the_subcommands():
    """command_paths walks the click tree: a subcommand (store merge) is one of them."""
    assert ["store", "merge"] in command_paths() and ["report"] in command_paths()


def test_import_contract_engine_knows_nothing_of_the_shell():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


@pytest.fixture
def compared_store(tmp_path):
    """A store with an IDRec and a MoRec run whose per-user results differ."""
    import numpy as np

    from morec_core.store import Store
    from tests.test_compare import add_run, standing

    path = tmp_path / "runs.db"
    rng = np.random.default_rng(0)
    with Store(path) as store:
        add_run(store, "id", "s", "IDRec", "id", 0.1, standing(0.1, rng))
        add_run(store, "mo", "s", "Text", "text", 0.1, standing(0.3, rng))
    return str(path)


@pytest.mark.parametrize(("arguments", "message"), [
    (["--by", "train.lrr"], "--by: unknown spec key 'train.lrr'"),
    (["--correction", "bonferroni"], "unknown correction 'bonferroni'; known: holm, bh, none"),
    (["--test", "wilcoxon"], "unknown test 'wilcoxon'; known: randomization, t"),
    (["--alpha", "1.5"], "alpha must be in (0, 1), got 1.5"),
])
def test_compare_refuses_bad_settings_in_one_line(compared_store, arguments, message):
    result = CliRunner().invoke(app, ["compare", "--storage", compared_store, *arguments])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {message}")
    assert result.output.count("\n") == 1  # one line, no traceback


def test_compare_prints_verdicts_and_wilcoxon_only_with_its_warning(compared_store):
    result = CliRunner().invoke(app, ["compare", "--storage", compared_store, "--by",
                                      "train.loss", "--wilcoxon", "--correction", "bh"])
    assert result.exit_code == 0, result.output
    assert "MoRec better" in result.output and "p Wilcoxon" in result.output
    assert "warning: Wilcoxon's signed-rank test over-rejects" in result.output
    assert "Benjamini-Hochberg" in result.output
    plain = CliRunner().invoke(app, ["compare", "--storage", compared_store])
    assert "Wilcoxon" not in plain.output and "Holm's correction" in plain.output


# Issue 12: bad settings and inputs end in one `error: ...` line and a non-zero exit.
@pytest.mark.parametrize(("override", "message"), [
    ("train.device=cudaXYZ", "train.device: must be auto, cpu, cuda, cuda:N or mps, got 'cudaXYZ'"),
    ("backbone.embed_dim=1000000000",
     "backbone.embed_dim: must be in [1, 65,536], got 1,000,000,000"),
    ("train.seed=-1", "train.seed: must be in [0, 2**32 - 1], got -1"),
    ("data.sample_seed=-1", "data.sample_seed: must be in [0, 2**32 - 1], got -1"),
    ("train.lr=inf", "train.lr: must be a finite number, got inf"),
    ("train.lr=nan", "train.lr: must be a finite number, got nan"),
    ("train.weight_decay=inf", "train.weight_decay: must be a finite number, got inf"),
])
def test_run_refuses_bad_settings_in_one_line(tmp_path, override, message):
    result = CliRunner().invoke(app, ["run", "--storage", str(tmp_path / "runs.db"),
                                      "--set", override])
    assert result.exit_code == 2
    assert result.output == f"error: {message}\n"


@pytest.fixture
def pairs_folder(tmp_path, monkeypatch):
    """Six items one user saw, in the `pairs` layout; data and runs land in tmp_path."""
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOREC_RUNS_DIR", str(tmp_path / "runs"))
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "d_users.tsv").write_text("u1\t1 2 3 4 5 6\n", encoding="utf-8")
    (folder / "d_items.csv").write_text(
        "item,title\n" + "".join(f"{item},title {item}\n" for item in range(1, 7)), "utf-8")
    return folder


def test_run_refuses_eval_k_above_the_catalogue(tmp_path, pairs_folder):
    result = CliRunner().invoke(app, ["run", "--dataset", "pairs", "--path", str(pairs_folder),
                                      "--storage", str(tmp_path / "runs.db"), "--set", "eval.k=7"])
    assert result.exit_code == 2
    last = result.output.splitlines()[-1]
    assert last.startswith("error: run ") and last.endswith(
        " failed: eval.k: 7 is more than the 6 items of raw; HR@k and NDCG@k rank the whole "
        "catalogue")
    assert "Traceback" not in result.output


def test_data_prepare_names_an_image_that_is_a_dangling_link(tmp_path, pairs_folder):
    (pairs_folder / "images").mkdir()
    (pairs_folder / "images" / "3.jpg").symlink_to(tmp_path / "moved.jpg")
    result = CliRunner().invoke(app, ["data", "prepare", "pairs", "--path", str(pairs_folder),
                                      "--keep-all", "--images"])
    assert result.exit_code == 2
    broken = (pairs_folder / "images").resolve() / "3.jpg"
    assert result.output.splitlines()[-1] == (
        f"error: {broken}: dangling symbolic link (to '{tmp_path / 'moved.jpg'}')")
    assert not any((tmp_path / "data" / "cache").glob("*images*"))


def test_debug_is_a_global_option():
    result = CliRunner().invoke(app, ["--help"])
    assert "--debug" in result.output and "MOREC_DEBUG=1" in result.output


@pytest.fixture
def run_main(monkeypatch, capsys):
    """run_main(*arguments) -> (exit code, stderr) of the `morec` script, in this process."""
    from morec_tui import cli

    monkeypatch.setenv("MOREC_DEBUG", "")  # off; and removed after the test if --debug sets it

    def invoke(*arguments: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["morec", *arguments])
        capsys.readouterr()
        with pytest.raises(SystemExit) as raised:
            cli.main()
        return raised.value.code, capsys.readouterr().err

    return invoke


def _raise(error):
    def raising(*args, **kwargs):
        raise error
    return raising


def _operational_error():
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT 1", {}, Exception("database is locked"))


@pytest.mark.parametrize(("error", "line"), [
    (PermissionError(13, "Permission denied", "/data/prepared"),
     "[Errno 13] Permission denied: '/data/prepared'"),
    (OSError(28, "No space left on device"), "[Errno 28] No space left on device"),
    # SQLAlchemy's message has three lines: the first one is printed.
    (_operational_error(), "(builtins.Exception) database is locked"),
])
def test_errors_escaping_a_command_print_one_line_and_exit_2(monkeypatch, run_main, error,
                                                             line):
    import morec_core.data.prepare

    monkeypatch.setattr(morec_core.data.prepare, "ensure_prepared", _raise(error))
    assert run_main("data", "info", "demo") == (2, f"error: {line}\n")


def test_store_errors_escaping_a_command_print_one_line(monkeypatch, run_main):
    import morec_core.data.prepare
    from morec_core.store import StoreError

    monkeypatch.setattr(morec_core.data.prepare, "ensure_prepared",
                        _raise(StoreError("store runs.db: locked\nby process 7")))
    assert run_main("data", "info", "demo") == (2, "error: store runs.db: locked\n")


def test_debug_and_morec_debug_show_the_traceback(monkeypatch, run_main):
    import morec_core.data.prepare

    error = PermissionError(13, "Permission denied", "/data/prepared")
    monkeypatch.setattr(morec_core.data.prepare, "ensure_prepared", _raise(error))
    # --debug sets MOREC_DEBUG in this process. Set through monkeypatch first, so that its undo
    # removes it after the test (delenv of an absent variable records nothing to undo).
    monkeypatch.setenv("MOREC_DEBUG", "")
    with pytest.raises(PermissionError):
        run_main("--debug", "data", "info", "demo")
    monkeypatch.setenv("MOREC_DEBUG", "1")
    with pytest.raises(PermissionError):
        run_main("data", "info", "demo")


def test_a_bug_keeps_its_traceback_without_debug(monkeypatch, run_main):
    import morec_core.data.prepare

    monkeypatch.setattr(morec_core.data.prepare, "ensure_prepared", _raise(KeyError("x")))
    with pytest.raises(KeyError):
        run_main("data", "info", "demo")


def test_an_error_that_ends_a_run_exits_1_naming_the_run(tmp_path, monkeypatch, run_main,
                                                         pairs_folder):
    import morec_core.run.build

    monkeypatch.setattr(morec_core.run.build, "build_run",
                        _raise(OSError(28, "No space left on device", "/runs/x/last.pt")))
    code, err = run_main("run", "--dataset", "pairs", "--path", str(pairs_folder),
                         "--storage", str(tmp_path / "runs.db"))
    assert code == 1
    last = err.splitlines()[-1]
    assert last.startswith("error: run ") and last.endswith(
        " failed: [Errno 28] No space left on device: '/runs/x/last.pt'")


def test_a_real_os_error_in_a_subprocess_and_its_traceback_under_debug(tmp_path, pairs_folder):
    import os

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("", encoding="utf-8")
    environment = {**os.environ, "MOREC_DATA_DIR": str(not_a_folder)}
    environment.pop("MOREC_DEBUG", None)
    command = [sys.executable, "-m", "morec_tui.cli", "data", "info", "pairs", "--path",
               str(pairs_folder)]
    plain = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env=environment)
    assert plain.returncode == 2
    assert plain.stderr == f"error: [Errno 20] Not a directory: '{not_a_folder / 'prepared'}'\n"
    debug = subprocess.run(command[:3] + ["--debug"] + command[3:], cwd=ROOT,
                           capture_output=True, text=True, timeout=120, env=environment)
    assert debug.returncode == 1
    assert debug.stderr.startswith("Traceback") and "NotADirectoryError" in debug.stderr


def test_studies_lists_the_packaged_demo_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./studies here
    monkeypatch.delenv("MOREC_STUDIES_DIR", raising=False)
    result = CliRunner().invoke(app, ["studies", "--grids", "--group", "demo"])
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("demo ")]
    assert line.split()[:6] == ["demo", "demo", "2", "4", "3", "8"]  # arms, points, seeds, runs
    assert "IDRec: train.lr in 0.001, 0.0005" in result.output
    mine = tmp_path / "studies"
    mine.mkdir()
    (mine / "demo.py").write_text(
        "from morec_core.studies import Arm, Study\n"
        "STUDY = Study(name='demo', description='my own demo', group='demo', "
        "arms=(Arm(name='IDRec'),))\n")
    result = CliRunner().invoke(app, ["studies", "--group", "demo"])
    assert "my own demo" in result.output  # the user's study of the same name wins


def test_compare_reads_a_store_in_a_folder_it_cannot_write(compared_store):
    """`morec compare` on a store shared read-only: opened read-only, nothing written."""
    import os

    from tests.test_store import WITHOUT_FILE_OVERRIDES

    path = Path(compared_store)
    before = sorted(path.parent.iterdir())
    path.parent.chmod(0o555)
    path.chmod(0o444)
    try:
        prefix = ["-c", WITHOUT_FILE_OVERRIDES] if os.geteuid() == 0 else []
        result = subprocess.run([sys.executable, *prefix, "-m", "morec_tui.cli", "compare",
                                 "--storage", str(path)], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        recompute = subprocess.run([sys.executable, *prefix, "-m", "morec_tui.cli", "compare",
                                    "--storage", str(path), "--recompute"], cwd=ROOT,
                                   capture_output=True, text=True, timeout=120)
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert "MoRec better" in result.stdout
    assert sorted(path.parent.iterdir()) == before
    assert recompute.returncode == 2
    assert recompute.stderr.strip().endswith("is read-only for this user")


def test_tune_set_needs_a_name_and_a_bad_setting_names_the_key(tmp_path):
    store = str(tmp_path / "runs.db")
    unnamed = CliRunner().invoke(app, ["tune", "--study", "demo", "--storage", store,
                                       "--set", "train.epochs=1"])
    assert unnamed.exit_code == 2
    assert unnamed.output.strip().startswith("error: --set changes every run of the study")
    bad = CliRunner().invoke(app, ["tune", "--study", "demo", "--storage", store, "--name", "x",
                                   "--set", "train.epochz=1"])
    assert bad.exit_code == 2 and "train.epochz" in bad.output
    assert not (tmp_path / "runs.db").exists()  # nothing queued, no store made


def test_resume_from_a_truncated_checkpoint_is_one_line_and_the_run_is_failed(tmp_path,
                                                                              monkeypatch):
    """`morec run --resume ID` whose last.pt was cut short (a full disk, a copy interrupted)."""
    from morec_core.store import Store

    store, run_id, _ = _one_epoch_run(tmp_path, monkeypatch)
    last = tmp_path / "runs" / run_id / "last.pt"
    last.write_bytes(last.read_bytes()[:200])
    resumed = CliRunner().invoke(app, ["run", "--resume", run_id, "--storage", store])
    assert resumed.exit_code == 2  # the checkpoint is bad input (a run that failed on its own: 1)
    [error] = [line for line in resumed.output.splitlines() if line.startswith("error:")]
    assert "last.pt" in error and "Traceback" not in resumed.output
    assert Store(store).run(run_id).status == "failed"


@pytest.mark.parametrize("kind", ["named pipe", "link to /dev/zero"])
def test_resume_from_a_last_pt_that_is_no_regular_file_is_refused_at_once(tmp_path, monkeypatch,
                                                                           kind):
    """A FIFO would block the open for ever and /dev/zero would be read until memory ran out;
    both are refused before they are opened, in one line."""
    import os

    from morec_core.store import Store

    store, run_id, _ = _one_epoch_run(tmp_path, monkeypatch)
    last = tmp_path / "runs" / run_id / "last.pt"
    last.unlink()
    if kind == "named pipe":
        os.mkfifo(last)
    else:
        last.symlink_to("/dev/zero")
    # A process of its own: were the file opened, the test would hang, not fail.
    resumed = subprocess.run([sys.executable, "-m", "morec_tui.cli", "run", "--resume", run_id,
                              "--storage", store], cwd=ROOT, capture_output=True, text=True,
                             timeout=120, env=os.environ.copy())
    assert resumed.returncode == 2, resumed.stderr
    [error] = [line for line in resumed.stderr.splitlines() if line.startswith("error:")]
    said = {"named pipe": "is a named pipe", "link to /dev/zero": "is a device"}[kind]
    assert "last.pt" in error and f"{said}, not a regular file" in error
    assert "Traceback" not in resumed.stderr
    assert Store(store).run(run_id).status == "failed"


def test_a_run_id_that_is_no_folder_name_is_refused_before_anything_is_written(tmp_path,
                                                                               monkeypatch):
    from tests.synthetic import write_chain_dataset

    data = write_chain_dataset(tmp_path / "chains", users=40, items=20)
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    monkeypatch.setenv("MOREC_RUNS_DIR", str(tmp_path / "runs" / "inner"))
    result = CliRunner().invoke(app, ["run", "--dataset", "pairs", "--path", str(data),
                                      "--storage", str(tmp_path / "runs.db"), "--quiet",
                                      "--run-id", "../../x", "--set", "train.epochs=1"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: '../../x' is not a run id (letters, digits, '-' and "
                                     "'_', at most 64, no folder separators)")
    assert not (tmp_path / "x").exists() and not (tmp_path / "runs").exists()
    assert not (tmp_path / "runs.db").exists()


def _one_epoch_run(tmp_path, monkeypatch):
    """A finished one-epoch run on a small chain dataset: (store path, run id, data folder)."""
    from morec_core.store import Store
    from tests.synthetic import write_chain_dataset

    data = write_chain_dataset(tmp_path / "chains", users=40, items=20)
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    monkeypatch.setenv("MOREC_RUNS_DIR", str(tmp_path / "runs"))
    store = str(tmp_path / "runs.db")
    first = CliRunner().invoke(app, ["run", "--dataset", "pairs", "--path", str(data),
                                     "--storage", store, "--quiet", "--set", "train.epochs=1",
                                     "--set", "backbone.embed_dim=8"])
    assert first.exit_code == 0, first.output
    [run] = Store(store).runs()
    return store, run.id, data


def test_resume_with_set_or_preset_is_refused_not_ignored(tmp_path, monkeypatch):
    store, run_id, _ = _one_epoch_run(tmp_path, monkeypatch)
    for extra in (["--set", "train.epochs=3"], ["--preset", "paper"]):
        result = CliRunner().invoke(app, ["run", "--resume", run_id, "--storage", store, *extra])
        assert result.exit_code == 2
        assert result.output.strip() == (
            f"error: --resume continues run {run_id} with its recorded settings; {extra[0]} is "
            "for a new run (leave out --resume)")


def test_resume_without_last_pt_says_it_starts_again(tmp_path, monkeypatch):
    from morec_core.store import Store

    store, run_id, _ = _one_epoch_run(tmp_path, monkeypatch)
    (tmp_path / "runs" / run_id / "last.pt").unlink()
    result = CliRunner().invoke(app, ["run", "--resume", run_id, "--storage", store, "--quiet"])
    assert result.exit_code == 0, result.output
    assert (f"run {run_id}: no checkpoint in {tmp_path / 'runs' / run_id} (last.pt is missing): "
            "it trains again from its first epoch") in result.output
    assert Store(store).run(run_id).status == "completed"


def test_sigusr2_checkpoints_a_run_which_ends_interrupted_and_resumes(tmp_path, monkeypatch):
    """`sbatch --signal=USR2` warns a job before its time limit: the run checkpoints at the step
    it reached instead of dying without one."""
    import os
    import signal
    import time

    from morec_core.store import Store
    from tests.synthetic import write_chain_dataset

    data = write_chain_dataset(tmp_path / "chains", users=400, items=50)
    env = {**os.environ, "MOREC_DATA_DIR": str(tmp_path / "data_root"),
           "MOREC_RUNS_DIR": str(tmp_path / "runs")}
    store = str(tmp_path / "runs.db")
    process = subprocess.Popen(
        [sys.executable, "-m", "morec_tui.cli", "run", "--dataset", "pairs", "--path", str(data),
         "--storage", store, "--quiet", "--set", "train.epochs=200", "--set",
         "train.batch_size=8", "--set", "backbone.embed_dim=8"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # signalled once it trains (an epoch has ended)
            runs = Store(store).runs() if os.path.exists(store) else []
            if runs and runs[0].last_epoch is not None:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGUSR2)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGUSR2, stderr
    assert "Traceback" not in stderr and "interrupted (stopped by SIGUSR2; resumable)" in stderr
    [run] = Store(store).runs()
    assert run.status == "interrupted"
    assert (tmp_path / "runs" / run.id / "last.pt").is_file()


@pytest.mark.parametrize("command", [["compare"], ["report", "--study", "demo"]])
def test_a_reader_given_a_store_that_is_not_there_creates_nothing(tmp_path, command):
    typo = tmp_path / "typo" / "m.db"
    result = CliRunner().invoke(app, [*command, "--storage", str(typo)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: store {typo}: folder {typo.parent} does not exist "
                                     "(nothing was created)")
    missing = tmp_path / "m.db"
    result = CliRunner().invoke(app, [*command, "--storage", str(missing)])
    assert result.exit_code == 2 and "no such file (nothing was created)" in result.output
    assert list(tmp_path.iterdir()) == []
