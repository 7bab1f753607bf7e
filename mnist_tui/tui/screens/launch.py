"""Launch: a form per job kind, built from the spec's own field metadata, validated as you type.

Every field's text goes through `specs.parse_value`, then the whole spec through
`JobSpec.problems()` — the same checks `--batch` applies — so the form can never accept what the
command line would refuse, and each bad field gets exactly one message under it.

Then what only the disk or the network can tell (`engine.runs.preflight.check_job`): the data
folder and the chosen split exist and hold the images asked for, the VGG16 weights are cached or
can be downloaded (how big, from where). That check runs in a thread worker shortly after the
fields it depends on change (at once, in this thread, when it touches neither: the bundled
digits), its findings go under their fields, and ctrl+s starts only once it passed (a failed
check is run again by ctrl+s: the network may be back).

Text fields are edited on purpose (widgets/fields.py): tab, a click or enter starts editing, esc
or enter ends it, and the screen keys work whenever no field is being edited. Every tab stop is a
field, marked `▶` when focused (not the scroll container, nor Start: ctrl+s). Switching the job
keeps what was typed into fields the new job has too; a preset or ctrl+d resets them.
"""

from __future__ import annotations

from dataclasses import MISSING
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    Checkbox,
    Header,
    Input,
    Select,
    Static,
)

from mnist_tui.engine.data.weights import weights_status
from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.jobs.specs import (
    JOB_NAMES,
    SPEC_CLASSES,
    flag_name,
    parse_value,
    spec_fields,
)
from mnist_tui.tui.host import app_state
from mnist_tui.tui.safe import plain, visible
from mnist_tui.tui.widgets.fields import (
    FIELD_BINDINGS,
    FieldInput,
    FieldKeys,
    FieldLabel,
    field_help,
)
from mnist_tui.tui.widgets.keysbar import KeysBar

if TYPE_CHECKING:
    from textual.events import DescendantFocus
    from textual.timer import Timer

    from mnist_tui.engine.runs.preflight import Check

    CheckKey = tuple[str, ...]    # the job and the values of CHECKED_FIELDS, as text

CHECK_DELAY_S = 0.3      # the form settles this long before the disk or network is asked
CHECKED_FIELDS = ("dataset", "data_dir", "split", "samples", "weights", "backend", "refine_rounds",
                  "tensorboard")
JOB_TITLES = {"tsne-gmm": "t-SNE + GMM (clustering)", "vgg16": "VGG16 transfer learning",
              "cnn": "small CNN"}


def _text_of(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _on_off(value: bool) -> str:
    """A boolean field's label: the bare box read as nothing at a glance."""
    return "on (space toggles)" if value else "off (space toggles)"


class LaunchScreen(FieldKeys):
    """Pick a job, a preset, adjust, start (the job joins the queue)."""

    AUTO_FOCUS = "#job-select"
    BINDINGS = [
        Binding("ctrl+s", "start", "Start job", priority=True),
        Binding("ctrl+d", "reset", "Reset to preset", priority=True),
        *FIELD_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.job = JOB_NAMES[0]
        self.problems: dict[str, str] = {}
        self._building = False
        self._built: tuple[str, str] | None = None   # (job, preset) of the form shown
        # The disk/network check of the valid spec: its key (the values it depends on), its
        # findings (None while it runs), and a start waiting for it.
        self.check_key: CheckKey | None = None
        self.checks: list[Check] | None = None
        self._check_spec: dict[str, Any] | None = None
        self._check_timer: Timer | None = None
        self._checking: CheckKey | None = None     # the key of the check in its worker
        self._start_waiting: CheckKey | None = None

    @property
    def checking(self) -> bool:
        """The disk/network check of the form's values has not answered yet."""
        return not self.problems and self.checks is None

    @property
    def start_waiting(self) -> bool:
        """ctrl+s was pressed and waits for the check."""
        return self._start_waiting is not None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="launch-top"):
            yield FieldLabel("Job", classes="top-label")
            yield Select([(JOB_TITLES.get(j, j), j) for j in JOB_NAMES], value=self.job,
                         allow_blank=False, id="job-select", compact=True)
            yield FieldLabel("Preset", classes="top-label")
            yield Select([(p, p) for p in SPEC_CLASSES[self.job].presets], value="default",
                         allow_blank=False, id="preset-select", compact=True)
        form = VerticalScroll(id="form")
        form.can_focus = False        # no tab stop of its own: focusing a field scrolls to it
        yield form
        yield Static("", id="field-help")
        with Horizontal(id="launch-bottom"):
            yield Static("", id="form-status")
            start = Button("Start (ctrl+s)", id="start", variant="success", compact=True)
            start.can_focus = False   # a click or ctrl+s: tab goes from field to field
            yield start
        yield KeysBar()

    async def on_mount(self) -> None:
        await self._build_form()

    # -- building ------------------------------------------------------------------------
    def _preset_values(self, preset: str) -> dict[str, Any]:
        cls = SPEC_CLASSES[self.job]
        values: dict[str, Any] = {}
        for f in spec_fields(self.job):
            default = f.default if f.default is not MISSING else None
            values[f.name] = default
        values.update(cls.presets.get(preset, {}))
        data_dir = app_state(self).data_dir
        if data_dir and "data_dir" in values and values.get("dataset") != "digits":
            values["data_dir"] = data_dir
        return values

    def typed_texts(self) -> dict[str, str]:
        """The fields whose text differs from the preset the form was built from (as
        `_field_text` reads them)."""
        if self._built is None or self._built[0] != self.job:
            return {}
        values, out = self._preset_values(self._built[1]), {}
        for f in spec_fields(self.job):
            if f.name == "preset" or not self.query(f"#f-{f.name}"):
                continue
            value = values.get(f.name)
            preset = (("yes" if value else "no") if f.metadata["kind"] is bool
                      else _text_of(value) if value is not None else "")
            if (text := self._field_text(f.name)) != preset:
                out[f.name] = text
        return out

    async def _build_form(self, preset: str = "default",
                          keep: dict[str, str] | None = None) -> None:
        """The form of `self.job` at `preset`; `keep`: texts typed for another job (fields of
        the same name take them; a choice only when this job offers it)."""
        self._building = True
        self.check_key = self.checks = None       # a new form: checked once it is built
        form = self.query_one("#form", VerticalScroll)
        await form.remove_children()
        values = self._preset_values(preset)
        keep = keep or {}
        rows = []
        for f in spec_fields(self.job):
            if f.name == "preset":
                continue
            meta = f.metadata
            value = values.get(f.name)
            text = keep.get(f.name)
            wid = f"f-{f.name}"
            widget: Checkbox | Select[str] | FieldInput
            if meta["kind"] is bool:
                on_ = bool(value) if text is None else text == "yes"
                widget = Checkbox(_on_off(on_), value=on_, id=wid, compact=True)
            elif meta["choices"]:
                choices = [str(c) for c in meta["choices"]]
                widget = Select([(c, c) for c in choices],
                                value=text if text in choices else _text_of(value),
                                allow_blank=False, id=wid, compact=True)
            else:
                hint = "none" if meta["optional"] else ""
                if text is None:
                    text = _text_of(value) if value is not None else ""
                widget = FieldInput(text, placeholder=hint, id=wid, compact=True)
            widget.tooltip = meta["help"]
            rows.append(Vertical(
                Horizontal(FieldLabel(flag_name(f.name), classes="field-label"), widget,
                           classes="field-row"),
                Static("", id=f"e-{f.name}", classes="field-error"),
                classes="field"))
        await form.mount_all(rows)
        self._built = (self.job, preset)
        self._building = False
        self.validate()

    # -- reading and validating --------------------------------------------------------------
    def _field_text(self, name: str) -> str:
        widget = self.query_one(f"#f-{name}")
        if isinstance(widget, Checkbox):
            return "yes" if widget.value else "no"
        if isinstance(widget, Select):
            return str(widget.value)
        assert isinstance(widget, Input), widget      # a FieldInput
        return widget.value

    def read_form(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(typed values, parse errors) from the widgets."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in spec_fields(self.job):
            if f.name == "preset":
                continue
            try:
                values[f.name] = parse_value(f, self._field_text(f.name))
            except SpecError as exc:
                errors[f.name] = str(exc).split(": ", 1)[-1]
        return values, errors

    def validate(self) -> dict[str, str]:
        """Parse every field, then ask the spec itself; show one message per bad field. A valid
        spec is then checked against the disk and the network (`_want_check`)."""
        if self._building:
            return self.problems
        values, errors = self.read_form()
        cls = SPEC_CLASSES[self.job]
        preset = str(self.query_one("#preset-select", Select).value)
        spec = None
        try:
            spec = cls(**{**values, "preset": preset})
            problems = spec.problems()
        except TypeError as exc:  # should not happen: fields come from the class itself
            problems = {"preset": str(exc)}
        problems = {**{k: v for k, v in problems.items() if k not in errors}, **errors}
        self.problems = problems
        if not problems and spec is not None:
            self._want_check(spec.to_dict())
        self._draw_findings()
        return problems

    # -- the disk and network check ----------------------------------------------------------
    def _want_check(self, spec: dict[str, Any]) -> None:
        """The check of this spec: kept when its inputs did not change, else computed here
        (no disk, no network needed) or in a worker after CHECK_DELAY_S."""
        from mnist_tui.engine.runs.preflight import check_job, needs_io

        key = (spec["job"], *(str(spec.get(name)) for name in CHECKED_FIELDS))
        if key == self.check_key:
            return
        if self._start_waiting is not None:      # the form changed under a waiting start
            self._start_waiting = None
            self.app.notify("not started: the form changed while it was being checked",
                            severity="warning")
        self.check_key, self._check_spec = key, spec
        if self._check_timer is not None:
            self._check_timer.stop()
            self._check_timer = None
        if not needs_io(spec):
            self.checks = check_job(spec, probe=False)
            return
        self.checks = None
        self._check_timer = self.set_timer(CHECK_DELAY_S, self._check_now)

    def _check_now(self) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
            self._check_timer = None
        if self._check_spec is not None:
            self._checking = self.check_key
            self._run_check(self.check_key, self._check_spec)

    @work(thread=True, exclusive=True, group="launch-check", exit_on_error=False)
    def _run_check(self, key: CheckKey | None, spec: dict[str, Any]) -> None:
        from mnist_tui.engine.runs.preflight import Check, check_job

        try:
            checks = check_job(spec)
        except Exception as exc:  # noqa: BLE001 - a bug in a check must not stop the form
            checks = [Check("dataset", "note", f"could not check the data: "
                            f"{type(exc).__name__}: {exc}")]
        try:
            self.app.call_from_thread(self._checked, key, checks)
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    def _checked(self, key: CheckKey | None, checks: list[Check]) -> None:
        if self._checking == key:
            self._checking = None
        if key != self.check_key:
            return   # the form changed meanwhile: a newer check is on its way
        self.checks = checks
        self._draw_findings()
        if self._start_waiting == key:
            self._start_waiting = None
            self._start_checked()

    def _check_problems(self) -> list[Check]:
        return [c for c in self.checks or [] if c.problem]

    def _draw_findings(self) -> None:
        """Each field's message (a parse or spec problem, else what the check found, else for
        the weights where they come from), the status line and the Start button."""
        problems = self.problems
        valid = not problems
        found = {}
        if valid:
            for c in self.checks or []:
                if c.field not in found or c.problem:
                    found[c.field] = c
        for f in spec_fields(self.job):
            if f.name == "preset":
                continue
            msg = problems.get(f.name)
            check = found.get(f.name)
            text: Text | str = ""
            if msg:
                text = plain(f"✘ {msg}", "bold red")      # messages name typed values
            elif check is not None and check.problem:
                text = plain(f"✘ {check.message}", "bold red")
            elif check is not None and check.level == "note":
                text = plain(check.message, "italic yellow")
            elif check is not None and f.name in ("data_dir", "weights"):
                text = plain(check.message, "italic")
            elif f.name == "weights":
                # until the check is in: a path or none say at once (a stat); the ImageNet
                # file is hashed to know it is cached, which is the check's work
                given = self._field_text(f.name).strip()
                if given != "imagenet":
                    text = plain(weights_status(given), "italic")
                elif valid and self.checks is None:
                    text = Text("looking for the ImageNet weights in Keras' cache…",
                                style="italic")
            err = self.query_one(f"#e-{f.name}", Static)
            err.update(text)
            err.set_class(bool(text), "shown")
            self.query_one(f"#f-{f.name}").set_class(
                bool(msg or (check is not None and check.problem)), "-invalid-field")
        status = self.query_one("#form-status", Static)
        preset = str(self.query_one("#preset-select", Select).value)
        bad = self._check_problems() if valid else []
        # One line beside the Start button at 80 columns (cut; ctrl+s says a problem whole)
        if problems:
            line = plain(f"✘ {len(problems)} field(s) need attention: "
                         + ", ".join(flag_name(k) for k in problems), "red")
        elif bad:
            line = Text(visible(f"✘ not ready (ctrl+s checks again): {bad[0].message}"),
                        style="red")
        elif self.checks is None:
            waiting = ": starts when it passes" if self._start_waiting else ""
            what = "the data and the weights" if self.job == "vgg16" else "the data"
            line = Text(f"… checking {what}{waiting}", style="italic")
        else:
            line = Text(f"✔ ready: {JOB_TITLES.get(self.job, self.job)}, preset {preset}",
                        style="green")
        line.no_wrap, line.overflow = True, "ellipsis"
        status.update(line)
        self.query_one("#start", Button).disabled = bool(problems or bad)

    # -- events ----------------------------------------------------------------------------
    @on(Select.Changed, "#job-select")
    async def _job_changed(self, event: Select.Changed) -> None:
        if event.value == self.job or event.value is Select.BLANK:
            return
        keep = self.typed_texts()        # kept in the fields the new job has too
        self.job = str(event.value)
        preset = self.query_one("#preset-select", Select)
        self._building = True
        preset.set_options([(p, p) for p in SPEC_CLASSES[self.job].presets])
        preset.value = "default"
        await self._build_form("default", keep)

    @on(Select.Changed, "#preset-select")
    async def _preset_changed(self, event: Select.Changed) -> None:
        if self._building or event.value is Select.BLANK or event.value != event.select.value:
            return  # a stale event: set_options picks a first option before the real one
        if (self.job, str(event.value)) == self._built:
            return  # the form already has this preset (the Select's first Changed, at mount,
            #         rebuilt it and dropped what had been typed meanwhile)
        await self._build_form(str(event.value))

    @on(Input.Changed)
    def _field_changed(self) -> None:
        self.validate()

    @on(Checkbox.Changed)
    def _box_changed(self, event: Checkbox.Changed) -> None:
        event.checkbox.label = _on_off(event.value)
        self.validate()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id and event.select.id.startswith("f-"):
            self.validate()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        wid = getattr(event.widget, "id", "") or ""
        helptext = ""
        if wid.startswith("f-"):
            f = next((f for f in spec_fields(self.job) if f.name == wid[2:]), None)
            helptext = field_help(f) if f is not None else ""
        elif wid == "job-select":
            helptext = "which job: t-SNE + GMM clusters without labels; VGG16 and CNN learn them"
        elif wid == "preset-select":
            helptext = "seed = the reference notebook's setup, default = our best"
        self.query_one("#field-help", Static).update(Text(helptext, style="italic"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    # -- actions ---------------------------------------------------------------------------
    async def action_reset(self) -> None:
        await self._build_form(str(self.query_one("#preset-select", Select).value))

    def action_start(self) -> None:
        """ctrl+s: once the field being edited has every key already typed into it."""
        self.after_typing(self._start)

    def _start(self) -> None:
        problems = self.validate()
        if problems:
            first = next(iter(problems))
            self.app.notify(f"not started: {len(problems)} field(s) need attention "
                            f"({flag_name(first)}: {problems[first]})", severity="error")
            try:
                self.query_one(f"#f-{first}").focus()
            except Exception:  # noqa: BLE001 - preset problems have no field widget
                pass
            return
        if self.checks is not None and not self._check_problems():
            self._submit()
            return
        # The check is under way, or found a problem that may have gone (the network is back,
        # the folder was mounted): check now, and start if it passes.
        from mnist_tui.engine.runs.preflight import check_job, needs_io

        if self._check_spec is not None and not needs_io(self._check_spec):
            self.checks = check_job(self._check_spec, probe=False)
            self._draw_findings()
            self._start_checked()
            return
        self._start_waiting = self.check_key
        if self._check_timer is not None or self.checks is not None \
                or self._checking != self.check_key:
            self.checks = None
            self._check_now()
        self._draw_findings()

    def _start_checked(self) -> None:
        """The check a start waited for is in."""
        bad = self._check_problems()
        if bad or self.problems:
            why = bad[0].message if bad else "the form changed"
            self.app.notify(f"not started: {why}", severity="error", timeout=10)
            if bad:
                try:
                    self.query_one(f"#f-{bad[0].field}").focus()
                except Exception:  # noqa: BLE001 - no such field in this job's form
                    pass
            return
        self._submit()

    def _submit(self) -> None:
        from mnist_tui.engine.jobs.specs import build_spec

        values, _ = self.read_form()
        preset = str(self.query_one("#preset-select", Select).value)
        try:
            spec = build_spec(self.job, preset, values)
        except SpecError as exc:
            self.app.notify(f"not started: {exc}", severity="error")
            return
        manager = app_state(self).manager
        job = manager.submit(spec.to_dict())
        queued = len([j for j in manager.active() if j.state == "queued"])
        held = manager.held_by
        self.app.notify(f"{self.job} {job.job_id[-6:]} "
                        + (f"queued ({queued} waiting)" if job.state == "queued" else "started")
                        + (f": it starts when {held} ends" if held else ""))
        app_state(self).action_show("monitor")
