"""The launch form: a study (`morec tune`) or a single run (`morec run`: dataset, item encoder,
backbone, overrides), and the GPUs it may use. Dismisses with a JobRequest, or None."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    SelectionList,
    Static,
)

from morec_core.config import DATA_SOURCES, ConfigError, RunSpec
from morec_core.encoder_catalog import ENCODER_NAMES
from morec_core.launch import spec_from_options
from morec_core.run.events import new_run_id
from morec_core.study.studies import STUDIES_DIR_ENV, load_studies
from morec_tui.jobs import CPU, Gpu, JobRequest, candidate_slots, run_argv, study_argv
from morec_tui.widgets.form_input import FormInput

if TYPE_CHECKING:
    from morec_core.study.slurm_config import SlurmSettings

# The registries' names, here because the registries import torch; a test keeps them equal.
DATASETS = list(DATA_SOURCES)
ENCODERS = list(ENCODER_NAMES)
BACKBONES = ["sasrec", "dssm"]


class LaunchScreen(ModalScreen[JobRequest | None]):
    AUTO_FOCUS = "#dataset"
    BINDINGS = [
        # Priority: the field changes when Tab arrives, so keys typed right after it go to the
        # next field; bubbling up from the Input, a Tab came after them (issue 16, bug 5).
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
        Binding("ctrl+s", "launch", "Launch"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]

    def __init__(self, store_url: str, gpus: list[Gpu], studies_dir: Path | None) -> None:
        super().__init__()
        self.slurm_settings: SlurmSettings | None = None
        """The Slurm settings the fields make (set when the box is ticked)."""
        self.store_url = store_url
        self.gpus = gpus
        self.studies_dir = studies_dir

    def compose(self) -> ComposeResult:
        with Vertical(id="launch", classes="dialog"):
            yield Static("[b]New job[/b]  (Tab: next field · Ctrl+S: launch · Esc: cancel)")
            with RadioSet(id="kind"):
                yield RadioButton("Single run", value=True, id="kind-run")
                yield RadioButton("Study", id="kind-study")
            with Vertical(id="run-fields"):
                yield from _field("dataset", FormInput("demo", id="dataset", compact=True,
                                                   suggester=SuggestFromList(DATASETS)))
                yield from _field("path", FormInput(placeholder="folder of the raw files (not for "
                                                            "demo)", id="path", compact=True))
                yield from _field("encoder", FormInput("id", id="encoder", compact=True,
                                                   suggester=SuggestFromList(ENCODERS)))
                yield from _field("model", FormInput(placeholder="pretrained model for text/vision",
                                                 id="model", compact=True))
                yield from _field("backbone", FormInput("sasrec", id="backbone", compact=True,
                                                    suggester=SuggestFromList(BACKBONES)))
                yield from _field("overrides", FormInput(
                    placeholder="section.key=value ... e.g. train.epochs=5", id="overrides",
                    compact=True))
                yield Checkbox("stop the run when it collapses (the paper's Figure 5)",
                               value=True, id="stop-on-collapse", compact=True)
            with Vertical(id="study-fields"):
                yield from _field("study", Select([], prompt="loading studies…", id="study",
                                                  compact=True))
                yield Checkbox("compile end-to-end networks (train.compile: GPU, long runs)",
                               value=False, id="compile", compact=True)
                # Enabled once `squeue` answers (checked off the UI thread, with the studies).
                yield Checkbox("submit the workers to Slurm (--launcher slurm; PostgreSQL "
                               "store)", value=False, id="slurm", compact=True, disabled=True)
                with Vertical(id="slurm-fields"):
                    # Empty: the --slurm-config file's value, else SlurmSettings' default.
                    yield from _field("jobs", FormInput(
                        placeholder="worker jobs (default 1)", id="slurm-jobs", compact=True))
                    yield from _field("partition", FormInput(
                        placeholder="the cluster's default", id="slurm-partition",
                        compact=True))
                    yield from _field("GPUs/trial", FormInput(
                        placeholder="GPUs per trial (default 0)", id="slurm-gpus",
                        compact=True))
                    yield from _field("time (min)", FormInput(
                        placeholder="each job's time limit (default 60)", id="slurm-time",
                        compact=True))
                    yield from _field("config", FormInput(
                        placeholder="--slurm-config: a TOML file with a [slurm] table",
                        id="slurm-config", compact=True))
            if self.gpus:
                yield Label("GPUs (Space to pick; none picked: any free one)")
                yield SelectionList[str](*[(f"GPU {gpu.index}: {gpu.name}", gpu.index)
                                           for gpu in self.gpus], id="gpus")
            else:
                yield Static("No GPU found: the job takes the CPU slot, one job at a time.",
                             classes="hint")
            yield Static("", id="launch-summary", classes="hint", markup=False)
            yield Static("", id="launch-error", classes="problem")
            yield Static("", id="plan-result", classes="hint", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Launch (Ctrl+S)", id="go", variant="primary", compact=True)
                yield Button("Plan", id="plan", compact=True)
                yield Button("Cancel (Esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#plan-result").display = False
        # No focus() here: the app focuses the first field as soon as the form is up
        # (MorecApp.action_launch; AUTO_FOCUS otherwise), and a focus() queued here ran after
        # keys typed meanwhile, undoing a Tab.
        self.query_one("#study-fields").display = False
        self.query_one("#slurm-fields").display = False
        self._summarize()
        self._load_studies()

    def focus_first_field(self) -> None:
        """Focus the dataset field at once (Screen.set_focus; Widget.focus waits its turn in
        the app's queue, behind keys already typed)."""
        self.set_focus(self.query_one("#dataset", Input))

    @work(thread=True, exit_on_error=False, group="studies")
    def _load_studies(self) -> None:
        # Study modules are user code: any error is shown in the form, not raised.
        from morec_core.study.slurm_jobs import slurm_available

        try:
            names, error = sorted(load_studies(self.studies_dir)), ""
        except Exception as problem:  # noqa: BLE001 - shown to the user
            names, error = [], f"study modules: {type(problem).__name__}: {problem}"
        slurm = slurm_available()
        self.app.call_from_thread(self._show_studies, names, error, slurm)

    def _show_studies(self, names: list[str], error: str, slurm: bool = False) -> None:
        self.query_one("#slurm", Checkbox).disabled = not slurm
        select = self.query_one("#study", Select)
        select.set_options([(name, name) for name in names])
        select.prompt = "pick a study" if names else "no study in studies/"
        if error:
            self._error(error)

    @on(FormInput.Submitted)
    def _next_field(self) -> None:
        self.focus_next()  # Enter moves on like Tab; launching takes Ctrl+S or the button

    @on(RadioSet.Changed, "#kind")
    def _kind_changed(self) -> None:
        study = self.query_one("#kind-study", RadioButton).value
        self.query_one("#run-fields").display = not study
        self.query_one("#study-fields").display = study
        self.query_one("#study" if study else "#dataset").focus()

    @on(Checkbox.Changed, "#slurm")
    def _slurm_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#slurm-fields").display = event.value

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    @on(RadioSet.Changed)
    @on(SelectionList.SelectedChanged)
    def _summarize(self) -> None:
        """The summary line: what Ctrl+S will submit, or why it cannot."""
        try:
            request = self._request(check_store=False)
            slurm = self.query_one("#slurm", Checkbox).value and request.kind == "study"
            text = summary(request, self.slurm_settings if slurm else None)
        except ConfigError as error:
            text = f"not ready: {error}"
        self.query_one("#launch-summary", Static).update(text)

    @on(Button.Pressed, "#go")
    def action_launch(self) -> None:
        try:
            request = self._request()
        except ConfigError as error:
            self._error(str(error))
            return
        self.dismiss(request)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#plan")
    def _plan(self) -> None:
        """`morec plan` of what the form holds (a study, or the one run), off the UI thread:
        each configuration built and timed for a few steps in a process of its own."""
        try:
            request = self._request()
        except ConfigError as error:
            self._error(str(error))
            return
        self._error("")
        picked = list(self.query_one("#gpus", SelectionList).selected) if self.gpus else []
        self._show_plan(["planning: building and timing each configuration (a few steps "
                         "each; a minute or more)…"])
        self.query_one("#plan", Button).disabled = True
        self._run_plan(request, picked)

    @work(thread=True, exit_on_error=False, group="plan")
    def _run_plan(self, request: JobRequest, picked: list[str]) -> None:
        from morec_core.store import Store, StoreError
        from morec_core.study.plan import make_plan, plan_path, save_plan
        from morec_core.study.plan_format import plan_summary
        from morec_core.study.studies import Arm, Study

        try:
            if request.kind == "study" and request.study:
                study = load_studies(self.studies_dir)[request.study]
                try:
                    with Store(self.store_url, read_only=True) as store:
                        runs = store.runs(study=study.name)
                except StoreError:
                    runs = None
            else:
                # The one run as a one-arm study of its own spec.
                spec = RunSpec.from_json(request.spec_json or "{}")
                study = Study(name="run", description="", arms=(Arm(name=request.label),),
                              overrides=tuple(_overrides_of(spec)))
                runs = []
            plan = make_plan(study, store_runs=runs, store=self.store_url,
                             workers=max(1, len(picked)),
                             worker_kind="GPUs" if picked else "local workers",
                             visible_gpu=picked[0] if picked else None)
            if request.kind == "study":
                from morec_core.paths import runs_dir

                save_plan(plan, plan_path(runs_dir(), study.name))
            lines = plan_summary(plan)
        except Exception as problem:  # noqa: BLE001 - user code and data: shown in the form
            lines = [f"plan: {type(problem).__name__}: {problem}"]
        self.app.call_from_thread(self._plan_done, lines)

    def _plan_done(self, lines: list[str]) -> None:
        if not self.is_attached:  # the form was closed while the plan ran
            return
        self.query_one("#plan", Button).disabled = False
        self._show_plan(lines)

    def _show_plan(self, lines: list[str]) -> None:
        result = self.query_one("#plan-result", Static)
        result.update("\n".join(lines))
        result.display = True

    def _error(self, text: str) -> None:
        error = self.query_one("#launch-error", Static)
        error.update(text)
        error.display = bool(text)

    def _slurm_options(self) -> tuple[list[str], str | None]:
        """The Slurm fields as `--slurm key=value` options (the filled ones) and the config
        file; checked as `morec tune` checks them. Raises ConfigError naming the field."""
        from morec_core.study.slurm_config import SlurmSettings

        options = []
        for name, key in (("jobs", "jobs"), ("partition", "partition"),
                          ("gpus", "gpus_per_trial"), ("time", "time_min")):
            value = self.query_one(f"#slurm-{name}", Input).value.strip()
            if value:
                options.append(f"{key}={value}")
        config = self.query_one("#slurm-config", Input).value.strip() or None
        if config is not None and not Path(config).expanduser().is_file():
            raise ConfigError(f"slurm config: {config} is not a file")
        base = SlurmSettings.from_toml(Path(config).expanduser()) if config else SlurmSettings()
        self.slurm_settings = base.with_options(options)
        return options, str(Path(config).expanduser().resolve()) if config else None

    def _request(self, *, check_store: bool = True) -> JobRequest:
        picked = list(self.query_one("#gpus", SelectionList).selected) if self.gpus else []
        candidates = candidate_slots(picked, self.gpus)
        env = {STUDIES_DIR_ENV: str(self.studies_dir.resolve())} if self.studies_dir else {}
        if self.query_one("#kind-study", RadioButton).value:
            study = self.query_one("#study", Select).value
            if not isinstance(study, str):
                raise ConfigError("pick a study")
            launcher = "slurm" if self.query_one("#slurm", Checkbox).value else "local"
            options: list[str] = []
            config: str | None = None
            if launcher == "slurm":
                from morec_core.study.slurm import refuse_store

                options, config = self._slurm_options()
                if check_store:  # before launch: a SQLite store fails in the form
                    refuse_store(self.store_url)
            # A study takes every GPU picked (one worker each), else one slot; a Slurm study's
            # local job only submits the workers.
            return JobRequest(kind="study", label=f"study {study}",
                              argv=tuple(study_argv(
                                  study, self.store_url,
                                  compile_networks=self.query_one("#compile", Checkbox).value,
                                  launcher=launcher, slurm=options, slurm_config=config)),
                              candidates=candidates, slots_needed=max(1, len(picked)),
                              study=study, env=env, cwd=os.getcwd())
        values = {name: self.query_one(f"#{name}", Input).value.strip()
                  for name in ("dataset", "path", "encoder", "model", "backbone")}
        try:
            overrides = shlex.split(self.query_one("#overrides", Input).value)
        except ValueError as error:
            raise ConfigError(f"overrides: {error}") from None
        if not values["dataset"] or not values["encoder"] or not values["backbone"]:
            raise ConfigError("dataset, encoder and backbone are needed")
        check_run_fields(**values)
        # The spec `morec run` would make, checked here where a typo can still be fixed; the
        # job carries it and the run id it is queued under, not flags to be parsed again.
        spec = spec_from_options(overrides=overrides, **values)
        label = " ".join([values["dataset"], values["encoder"] + (
            f":{values['model']}" if values["model"] else ""), values["backbone"], *overrides])
        run_id = new_run_id()
        argv = run_argv(run_id, self.store_url,
                        stop_on_collapse=self.query_one("#stop-on-collapse", Checkbox).value)
        return JobRequest(kind="run", label=label, argv=tuple(argv), candidates=candidates,
                          env=env, cwd=os.getcwd(), run_id=run_id, spec_json=spec.to_json())


def summary(request: JobRequest, slurm: SlurmSettings | None = None) -> str:
    """One line: what Ctrl+S will start, where. slurm: the settings of a Slurm study (its
    fields on top of its config file)."""
    if slurm is not None:
        partition = slurm.partition or "the default partition"
        return (f"Ctrl+S submits {request.label} to Slurm: {slurm.jobs} worker job"
                f"{'s' * (slurm.jobs > 1)} on {partition}, {slurm.gpus_per_trial} GPU(s) per "
                f"trial, {slurm.time_min} min each")
    slots = ", ".join("CPU" if slot == CPU else f"GPU {slot}" for slot in request.candidates)
    where = (f"{request.slots_needed} of {slots}" if request.slots_needed > 1
             else "the CPU slot" if request.candidates == (CPU,) else f"one of {slots}")
    return f"Ctrl+S queues {request.label} on {where}"


def check_run_fields(*, dataset: str, path: str, encoder: str, model: str,
                     backbone: str) -> None:
    """What `morec run` would reject only after launch, once its data had loaded: an unknown
    encoder or backbone, a source without its folder. Raises ConfigError naming the field."""
    del model  # a local folder, a packaged name or a hub id: only the run can tell
    if dataset not in DATASETS:
        raise ConfigError(f"dataset: unknown {dataset!r}; known: {', '.join(DATASETS)}")
    if encoder not in ENCODERS:
        raise ConfigError(f"encoder: unknown {encoder!r}; known: {', '.join(ENCODERS)}")
    if backbone not in BACKBONES:
        raise ConfigError(f"backbone: unknown {backbone!r}; known: {', '.join(BACKBONES)}")
    if dataset != "demo":  # demo is packaged; every other source reads a folder
        if not path:
            raise ConfigError(f"path: dataset {dataset!r} needs the folder of its raw files")
        if not Path(path).expanduser().is_dir():
            raise ConfigError(f"path: {path} is not a folder")


def _overrides_of(spec: RunSpec) -> list[str]:
    """`section.key=value` strings that rebuild `spec` from the defaults."""
    defaults = RunSpec().to_dict()
    return [f"{section}.{key}={','.join(map(str, value)) if isinstance(value, list | tuple) else value}"
            for section, values in spec.to_dict().items() for key, value in values.items()
            if defaults[section][key] != value]


def _field(name: str, widget: Input | Select[str]) -> ComposeResult:
    with Horizontal(classes="field"):
        yield Label(name, classes="field-label")
        yield widget
