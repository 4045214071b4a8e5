"""`morec report`: sections sorted by spec, numbers equal to `morec compare --format json`,
pending arms named, files written whole."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from morec_core.config import RunSpec
from morec_core.results.formatting import p_value
from morec_core.results.report import build_report
from morec_core.run import events as ev
from morec_core.spec_labels import arm_kind
from morec_core.store import Store
from morec_tui.cli import app
from tests.test_compare import standing

ARMS = {
    # arm: (settings, hit probability)
    "IDRec": (("encoder.name=id",), 0.20),
    "Text E2E": (("encoder.name=text", "encoder.model=minilm-l6"), 0.30),
    "Text TS": (("encoder.name=text", "encoder.model=minilm-l6", "encoder.mode=two_stage"),
                0.15),
    "Text TS scratch": (("encoder.name=text", "encoder.model=minilm-l6",
                         "encoder.mode=two_stage", "encoder.pretrained=false"), 0.05),
    "ID+TS add": (("encoder.name=text", "encoder.model=minilm-l6", "encoder.mode=two_stage",
                   "encoder.fusion=add"), 0.21),
}


def record(store, run_id, study, arm, settings, hit, seed, rng):
    spec = RunSpec().with_overrides([*settings, f"train.seed={seed}"])
    store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                               selection_metric="ndcg@10", host="box", pid=1, device="cpu",
                               study=study, arm=arm))
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="valid",
                              metrics={"hr@10": hit, "ndcg@10": hit / 2},
                              protocol="full ranking over all 50 items"))
    for split, probability in (("test", hit), ("test_cold", hit / 3), ("test_new", hit / 4)):
        per_user = standing(probability, rng, users=600)
        store.record(ev.Evaluated(run_id=run_id, epoch=0, split=split,
                                  metrics=per_user.metrics(spec.eval.ties), per_user=per_user,
                                  protocol="full ranking over all 50 items"))
    store.record(ev.CostMeasured(run_id=run_id, trainable_params=1000 * seed,
                                 total_params=2000, seconds_per_epoch=float(seed),
                                 peak_memory_bytes=2**20 * seed))
    store.record(ev.RunFinished(run_id=run_id, status="completed", best_epoch=0))


@pytest.fixture
def filled(tmp_path, monkeypatch):
    """A store with every arm on 3 seeds but the E2E arm's third, and a study module naming
    one arm no run has."""
    rng = np.random.default_rng(0)
    store = Store(tmp_path / "runs.db")
    for arm, (settings, hit) in ARMS.items():
        for seed in (1, 2, 3):
            if arm == "Text E2E" and seed == 3:
                continue
            record(store, f"{arm}-{seed}".replace(" ", "_"), "synthetic", arm, settings, hit,
                   seed, rng)
    studies = tmp_path / "studies"
    studies.mkdir()
    arms = ", ".join(f"Arm(name={arm!r}, overrides={settings!r})"
                     for arm, (settings, _) in ARMS.items())
    (studies / "synthetic.py").write_text(
        "from morec_core.studies import Arm, Study\n"
        f"STUDIES = [Study(name='synthetic', description='d', group='synth', seeds=(1, 2, 3), "
        f"arms=({arms}, Arm(name='Never run', overrides=('encoder.name=glove',)))),\n"
        "    Study(name='later', description='a GPU job', group='synth', seeds=3, "
        "arms=(Arm(name='E2E', overrides=('encoder.name=text',)),))]\n")
    monkeypatch.setenv("MOREC_STUDIES_DIR", str(studies))
    return store, tmp_path


def cells_of(markdown: str, label: str) -> list[str]:
    """The cells of the first Markdown table line that names `label` as its arm."""
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("|") and label in cells:
            return cells
    raise AssertionError(f"no table line for {label}")


def test_the_reports_numbers_are_compares(filled):
    store, folder = filled
    output = folder / "out" / "report.md"
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--group", "synth", "--storage", str(store.url),
                                 "--output", str(output)])
    assert result.exit_code == 0, result.output
    compared = runner.invoke(app, ["compare", "--group", "synth", "--cold-new", "--format",
                                   "json", "--storage", str(store.url)])
    assert compared.exit_code == 0, compared.output
    rows = {row["arm"]: row for row in json.loads(compared.stdout)["rows"]}
    markdown = output.read_text()
    assert "regenerate this file" in markdown
    # The first line is the command that wrote the file.
    assert markdown.splitlines()[0].startswith("`morec report --group synth --storage ")
    for arm, row in rows.items():
        cells = cells_of(markdown, f"synthetic/{arm}")
        mean, (low, high) = row["test"]["hr@10"], row["test_ci"]["hr@10"]
        assert f"{100 * mean:.2f} [{100 * low:.2f}, {100 * high:.2f}]" in cells
        for metric, comparison in row["comparisons"].items():
            if metric != "hr@10":
                continue
            difference = f"{100 * comparison['difference']:+.2f}"
            assert any(cell.startswith(difference + " [") for cell in cells), (arm, cells)
            # One p-value format for compare and report (morec_core.results.formatting).
            assert p_value(comparison["p_adjusted"]) in cells
            assert comparison["verdict"] in cells
    # The planted effects: E2E above IDRec, TS below it, the verdicts say so.
    assert rows["Text E2E"]["comparisons"]["hr@10"]["verdict"] == "MoRec better"
    assert rows["Text TS"]["comparisons"]["hr@10"]["verdict"] == "IDRec better"
    html = output.with_suffix(".html").read_text()
    assert "<table>" in html and "report_files/qi-bars.png" in html
    assert (folder / "out" / "report_files" / "qi-bars.png").stat().st_size > 1000
    assert not list((folder / "out").glob(".*"))  # no temporaries left behind


def test_sections_pending_and_contrasts(filled):
    store, _ = filled
    from morec_core.study.studies import group_studies

    definitions = group_studies("synth")
    report = build_report(store, ["synthetic"], definitions, command="morec report")
    sections = {section.question: section for section in report.sections}
    kinds = {row.arm: report.kinds[row.label] for row in report.rows}
    assert kinds == {"IDRec": "IDRec", "Text E2E": "E2E", "Text TS": "TS",
                     "Text TS scratch": "TS random weights", "ID+TS add": "fusion"}
    assert {row.arm for row in sections["Q(i)"].rows} == {"IDRec", "Text E2E"}
    # Q(iii): the two-stage arms against the end-to-end one of the same encoder.
    contrasts = {(c.treated.arm, c.control.arm) for c in sections["Q(iii)"].contrasts}
    assert ("Text TS", "Text E2E") in contrasts
    worse = next(c for c in sections["Q(iii)"].contrasts if c.treated.arm == "Text TS")
    assert worse.comparisons["hr@10"].verdict == "worse"
    # Q(ii): pretrained against its random-weights twin; Q(iv): fusion against TS alone.
    assert {(c.treated.arm, c.control.arm) for c in sections["Q(ii)"].contrasts} == {
        ("Text TS", "Text TS scratch")}
    assert {(c.treated.arm, c.control.arm) for c in sections["Q(iv)"].contrasts} == {
        ("ID+TS add", "Text TS")}
    assert any("DSSM" in line for line in sections["Q(i)"].missing)
    assert report.pending == ["synthetic / Text E2E (E2E): 2 of 3 seeds completed",
                              "synthetic / Never run (E2E): 0 of 3 seeds completed",
                              "later (a GPU job): not run; 1 arms x 3 seeds: E2E"]
    assert report.machines == ["box (cpu): 14 selected runs"]
    assert report.unfinished == []
    # The author's word on why: beside each pending line of the matching studies, the first
    # matching pattern's.
    report = build_report(store, ["synthetic"], definitions, pending_reasons=[
        ("lat*", "no GPU was lent"), ("*", "budget spent"), ("later", "never used")])
    assert report.pending == [
        "synthetic / Text E2E (E2E): 2 of 3 seeds completed (budget spent)",
        "synthetic / Never run (E2E): 0 of 3 seeds completed (budget spent)",
        "later (a GPU job): not run; 1 arms x 3 seeds: E2E (no GPU was lent)"]


@pytest.mark.parametrize("reason", ["gpu_*", "=why", "gpu_*=", " = "])
def test_a_pending_reason_without_pattern_or_why_is_one_line(filled, reason):
    store, tmp_path = filled
    result = CliRunner().invoke(app, ["report", "--group", "synth", "--storage", store.url,
                                      "--output", str(tmp_path / "r.md"),
                                      "--pending-reason", reason])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output
    assert "--pending-reason" in result.stderr and "STUDY_PATTERN=WHY" in result.stderr
    assert not (tmp_path / "r.md").exists()


def test_pending_reasons_reach_the_file_and_its_command(filled):
    store, tmp_path = filled
    output = tmp_path / "r.md"
    result = CliRunner().invoke(app, ["report", "--group", "synth", "--storage", store.url,
                                      "--output", str(output), "--no-figures", "--no-html",
                                      "--pending-reason", "later=no GPU was lent"])
    assert result.exit_code == 0, result.output
    markdown = output.read_text()
    assert "- later (a GPU job): not run; 1 arms x 3 seeds: E2E (no GPU was lent)" in markdown
    assert "--pending-reason 'later=no GPU was lent'" in markdown.splitlines()[0]


def test_an_arm_whose_trials_all_collapsed_is_said_so(filled):
    store, _ = filled
    store.record(ev.RunStarted(run_id="gone", spec=RunSpec().with_overrides(
        ["encoder.name=glove"]).to_dict(), spec_key="k", selection_metric="ndcg@10", host="box",
        pid=1, device="cpu", study="synthetic", arm="Never run"))
    store.record(ev.RunFinished(run_id="gone", status="collapsed", best_epoch=None,
                                reason="validation ndcg@10 stayed at random level"))
    from morec_core.study.studies import group_studies

    report = build_report(store, ["synthetic"], group_studies("synth"))
    assert len(report.unfinished) == 1
    assert report.unfinished[0].startswith("synthetic/Never run (bce): no completed run; "
                                           "1 collapsed")
    assert "random level" in report.unfinished[0]


def test_nothing_to_report_is_one_line(tmp_path):
    store = Store(tmp_path / "empty.db")
    result = CliRunner().invoke(app, ["report", "--storage", str(store.url)])
    assert result.exit_code != 0 and "--group NAME" in result.output
    result = CliRunner().invoke(app, ["report", "--group", "nope", "--storage", str(store.url)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert re.search(r"nope", result.output)


def test_arm_kinds_follow_the_spec():
    def kind(*settings):
        return arm_kind(RunSpec().with_overrides(list(settings)))

    assert kind() == "IDRec"
    assert kind("encoder.name=text", "encoder.finetune_layers=2") == "top-k"
    assert kind("encoder.name=text", "encoder.pretrained=false") == "scratch"
    assert kind("encoder.name=text", "encoder.mode=two_stage", "encoder.mlp_layers=2") == "TS-DNN"
    assert kind("encoder.name=text", "encoder.fusion=add") == "fusion"


def test_each_claim_is_answered_with_its_interval_and_whether_it_agrees(filled):
    """The planted effects (E2E above IDRec, TS below it and below E2E, pretrained above random
    weights, fusion above TS alone) read as agreements with the paper, except fusion, which the
    paper found not to help; what the store lacks is named as not measured."""
    from morec_core.results.report_findings import conclude
    from morec_core.study.studies import group_studies

    store, _ = filled
    report = build_report(store, ["synthetic"], group_studies("synth"))
    found = {section.question: section.conclusions for section in report.sections}

    def line(question: str, start: str) -> str:
        (matched,) = [text for text in found[question] if text.startswith(start)]
        return matched

    interval = re.compile(r"[+-]\d+\.\d% \[[+-]\d+\.\d%, [+-]\d+\.\d%\]")
    e2e = line("Q(i)", "With SASRec, end-to-end MoRec")
    assert "Text E2E" in e2e and "MoRec better: agrees" in e2e and interval.search(e2e)
    assert line("Q(i)", "With DSSM").endswith("not measured here (no DSSM MoRec arm with a "
                                              "verdict)")
    assert line("Q(iii)", "Two-stage MoRec is much worse than end-to-end").endswith(
        "worse: agrees")
    assert line("Q(iii)", "Two-stage MoRec is much worse than IDRec").endswith(
        "IDRec better: agrees")
    assert line("Q(ii)", "Pretrained encoders beat").endswith("better: agrees")
    assert line("Q(iv)", "Adding ID features").endswith("better: disagrees")
    for lines in found.values():
        for text in lines:
            assert "not measured here (" in text or interval.search(text) or "pp [" in text \
                or "x IDRec's s/epoch" in text, text
    # Without the end-to-end arm: said so, with the nearest arm measured instead.
    rows = [row for row in report.rows if row.arm != "Text E2E"]
    without = conclude("Q(i)", rows, report.kinds, [], report.pending)
    assert without[0].startswith("With SASRec, end-to-end MoRec is comparable to or better than "
                                 "IDRec: not measured here (no end-to-end arm of a strong "
                                 "pretrained encoder has a completed run")
    assert any(text.startswith("nearest measured (not end to end): Text TS") for text in without)


def test_the_report_names_no_path_of_the_machine(filled, monkeypatch):
    """Store and data folders by their names relative to where the report was written."""
    store, folder = filled
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(app, ["report", "--group", "synth", "--storage", "runs.db",
                                      "--output", "out/report.md", "--no-figures"])
    assert result.exit_code == 0, result.output
    markdown = (folder / "out" / "report.md").read_text()
    assert "store: `runs.db`" in markdown
    assert str(folder) not in markdown


def test_a_study_made_by_tune_name_is_reported(tmp_path, monkeypatch):
    """Issue 22: `morec tune --study demo --name shop` makes a study no module defines; `morec
    report --study shop` reports it (it was "unknown study")."""
    monkeypatch.setenv("MOREC_STUDIES_DIR", str(tmp_path / "no-studies"))
    rng = np.random.default_rng(1)
    store = Store(tmp_path / "runs.db")
    for arm in ("IDRec", "Text E2E"):
        settings, hit = ARMS[arm]
        for seed in (1, 2):
            record(store, f"{arm}-{seed}".replace(" ", "_"), "shop", arm,
                   (*settings, "data.source=table", "data.path=/data/shop"), hit, seed, rng)
    output = tmp_path / "shop.md"
    result = CliRunner().invoke(app, ["report", "--study", "shop", "--storage", str(store.url),
                                      "--output", str(output), "--no-figures", "--no-html"])
    assert result.exit_code == 0, result.output
    markdown = output.read_text()
    assert "morec report --study shop" in markdown
    assert cells_of(markdown, "shop/Text E2E")
    # The one dataset label: the folder, the reader, the view.
    assert "shop (table, text)" in markdown
    unknown = CliRunner().invoke(app, ["report", "--study", "nope", "--storage", str(store.url),
                                       "--output", str(tmp_path / "nope.md")])
    assert unknown.exit_code == 2 and len(unknown.stderr.splitlines()) == 1
    assert "no study 'nope' either" in unknown.stderr and not (tmp_path / "nope.md").exists()


def test_writing_a_report_says_each_step_done_out_of_all(filled):
    """The dashboard's `w` shows how far the files are: one step per question with rows and
    one for the trade-off figure, then the text files; steps rise to the total, said once."""
    from morec_core.results.report_files import write_report
    from morec_core.studies import load_studies

    store, folder = filled
    definitions = [study for name, study in load_studies().items() if name == "synthetic"]
    report = build_report(store, ["synthetic"], definitions)
    questions = sum(1 for section in report.sections if section.rows)
    assert questions >= 2
    steps: list[tuple[int, int]] = []
    written = write_report(report, store, folder / "out" / "steps.md",
                           progress=lambda done, total: steps.append((done, total)))
    total = questions + 2  # the questions, the trade-off figure, the text files
    assert steps == [(done, total) for done in range(1, total + 1)]
    assert all(path.exists() for path in written)
    # Without figures only the text files are a step.
    steps.clear()
    write_report(report, store, folder / "out" / "text.md", figures=False,
                 progress=lambda done, total: steps.append((done, total)))
    assert steps == [(1, 1)]


def test_verdict_counts_are_per_data_view_never_summed_across_views(filled):
    """A user sample (or a warm-K view) is another question than the whole data: the report's
    counts of verdicts per loss keep them apart."""
    store, _ = filled
    rng = np.random.default_rng(1)
    for arm in ("IDRec", "Text TS"):
        settings, hit = ARMS[arm]
        for seed in (1, 2, 3):
            record(store, f"sampled-{arm}-{seed}".replace(" ", "_"), "sampled", arm,
                   (*settings, "data.user_sample=300"), hit, seed, rng)
    from morec_core.study.studies import group_studies

    report = build_report(store, ["synthetic", "sampled"], group_studies("synth"))
    two_stage = next(section for section in report.sections if section.question == "Q(iii)")
    counts = [line for line in two_stage.findings if "against IDRec)" in line]
    assert len(counts) == 2, two_stage.findings
    sampled = [line for line in counts if "300 users" in line]
    assert len(sampled) == 1 and "1 MoRec arm against IDRec" in sampled[0], counts


def test_static_word_vectors_end_to_end_do_not_answer_the_strong_encoder_claims(filled):
    """GloVe trained end to end is an E2E arm by its training, but the paper's end-to-end claims
    (comparable to IDRec, 100-1000x its epoch) are about strong pretrained encoders: a GloVe arm
    beside IDRec leaves them not measured and is costed as what it is."""
    store, _ = filled
    rng = np.random.default_rng(2)
    for seed in (1, 2, 3):
        record(store, f"glove-{seed}", "glove", "GloVe", ("encoder.name=glove",), 0.10, seed, rng)
        record(store, f"glove-id-{seed}", "glove", "IDRec", ARMS["IDRec"][0], 0.20, seed, rng)
    from morec_core.results.report_findings import conclude
    from morec_core.study.studies import group_studies

    report = build_report(store, ["glove"], group_studies("synth"))
    assert report.kinds["glove/GloVe"] == "E2E"
    regular = conclude("Q(i)", report.rows, report.kinds, [], [])
    assert regular[0].startswith("With SASRec, end-to-end MoRec is comparable to or better than "
                                 "IDRec: not measured here"), regular
    assert not any("GloVe" in text for text in regular)
    challenges = conclude("Q(iv)", report.rows, report.kinds, [], [])
    (cost,) = [text for text in challenges if text.startswith("End-to-end MoRec costs")]
    assert cost.startswith("End-to-end MoRec costs 100-1000x an IDRec epoch: not measured here")
    assert any(text.startswith("cost: GloVe (E2E, static word vectors,") for text in challenges)
    q_i = next(section for section in report.sections if section.question == "Q(i)")
    assert any("strong pretrained encoder" in text for text in q_i.missing)
