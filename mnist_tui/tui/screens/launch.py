"""Launch: a form per job kind, built from the spec's own field metadata, validated as you type.

Every field's text goes through `specs.parse_value`, then the whole spec through
`JobSpec.problems()` — the same checks `--batch` applies — so the form can never accept what the
command line would refuse, and each bad field gets exactly one message under it.
"""

from __future__ import annotations

from dataclasses import MISSING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    Header,
    Input,
    Label,
    Select,
    Static,
)

from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.specs import (
    JOB_NAMES,
    SPEC_CLASSES,
    flag_name,
    parse_value,
    spec_fields,
)
from mnist_tui.engine.weights import weights_status
from mnist_tui.tui.screens.fields import LeaveFieldKey
from mnist_tui.tui.widgets.keysbar import KeysBar

JOB_TITLES = {"tsne-gmm": "t-SNE + GMM (clustering)", "vgg16": "VGG16 transfer learning",
              "cnn": "small CNN"}


def _text_of(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _on_off(value: bool) -> str:
    """A boolean field's label: the bare box read as nothing at a glance."""
    return "on (space toggles)" if value else "off (space toggles)"


class LaunchScreen(LeaveFieldKey, Screen):
    """Pick a job, a preset, adjust, start (the job joins the queue)."""

    BINDINGS = [
        Binding("ctrl+s", "start", "Start job", priority=True),
        Binding("ctrl+d", "reset", "Reset to preset", priority=True),
        Binding("escape", "leave_field", "Leave field"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.job = JOB_NAMES[0]
        self.problems: dict[str, str] = {}
        self._building = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="launch-top"):
            yield Label("Job", classes="top-label")
            yield Select([(JOB_TITLES.get(j, j), j) for j in JOB_NAMES], value=self.job,
                         allow_blank=False, id="job-select", compact=True)
            yield Label("Preset", classes="top-label")
            yield Select([(p, p) for p in SPEC_CLASSES[self.job].presets], value="default",
                         allow_blank=False, id="preset-select", compact=True)
        yield VerticalScroll(id="form")
        with Horizontal(id="launch-bottom"):
            yield Static("", id="field-help")
            yield Button("Start (ctrl+s)", id="start", variant="success", compact=True)
        yield Static("", id="form-status")
        yield KeysBar()

    async def on_mount(self) -> None:
        await self._build_form()

    # -- building ------------------------------------------------------------------------
    def _preset_values(self, preset: str) -> dict:
        cls = SPEC_CLASSES[self.job]
        values = {}
        for f in spec_fields(self.job):
            default = f.default if f.default is not MISSING else None
            values[f.name] = default
        values.update(cls.presets.get(preset, {}))
        data_dir = getattr(self.app, "data_dir", None)
        if data_dir and "data_dir" in values and values.get("dataset") != "digits":
            values["data_dir"] = data_dir
        return values

    async def _build_form(self, preset: str = "default") -> None:
        self._building = True
        form = self.query_one("#form", VerticalScroll)
        await form.remove_children()
        values = self._preset_values(preset)
        rows = []
        for f in spec_fields(self.job):
            if f.name == "preset":
                continue
            meta = f.metadata
            value = values.get(f.name)
            wid = f"f-{f.name}"
            if meta["kind"] is bool:
                widget = Checkbox(_on_off(bool(value)), value=bool(value), id=wid,
                                  compact=True)
            elif meta["choices"]:
                widget = Select([(str(c), str(c)) for c in meta["choices"]],
                                value=_text_of(value), allow_blank=False, id=wid, compact=True)
            else:
                hint = "none" if meta["optional"] else ""
                widget = Input(_text_of(value) if value is not None else "", placeholder=hint,
                               id=wid, compact=True)
            widget.tooltip = meta["help"]
            rows.append(Vertical(
                Horizontal(Label(flag_name(f.name), classes="field-label"), widget,
                           classes="field-row"),
                Static("", id=f"e-{f.name}", classes="field-error"),
                classes="field"))
        await form.mount_all(rows)
        self._building = False
        self.validate()

    # -- reading and validating --------------------------------------------------------------
    def _field_text(self, name: str) -> str:
        widget = self.query_one(f"#f-{name}")
        if isinstance(widget, Checkbox):
            return "yes" if widget.value else "no"
        if isinstance(widget, Select):
            return str(widget.value)
        return widget.value

    def read_form(self) -> tuple[dict, dict[str, str]]:
        """(typed values, parse errors) from the widgets."""
        values, errors = {}, {}
        for f in spec_fields(self.job):
            if f.name == "preset":
                continue
            try:
                values[f.name] = parse_value(f, self._field_text(f.name))
            except SpecError as exc:
                errors[f.name] = str(exc).split(": ", 1)[-1]
        return values, errors

    def validate(self) -> dict[str, str]:
        """Parse every field, then ask the spec itself; show one message per bad field."""
        if self._building:
            return self.problems
        values, errors = self.read_form()
        cls = SPEC_CLASSES[self.job]
        preset = str(self.query_one("#preset-select", Select).value)
        try:
            spec = cls(**{**values, "preset": preset})
            problems = spec.problems()
        except TypeError as exc:  # should not happen: fields come from the class itself
            problems = {"preset": str(exc)}
        problems = {**{k: v for k, v in problems.items() if k not in errors}, **errors}
        self.problems = problems
        for f in spec_fields(self.job):
            if f.name == "preset":
                continue
            msg = problems.get(f.name)
            # the weights say where they come from (cached, or downloaded on first use)
            note = "" if msg or f.name != "weights" else weights_status(
                self._field_text(f.name))
            err = self.query_one(f"#e-{f.name}", Static)
            err.update(Text(f"✘ {msg}", style="bold red") if msg
                       else Text(note, style="italic") if note else "")
            err.set_class(bool(msg or note), "shown")
            self.query_one(f"#f-{f.name}").set_class(bool(msg), "-invalid-field")
        status = self.query_one("#form-status", Static)
        if problems:
            status.update(Text(f"✘ {len(problems)} field(s) need attention: "
                               + ", ".join(flag_name(k) for k in problems), style="red"))
        else:
            status.update(Text(f"✔ ready: {JOB_TITLES.get(self.job, self.job)}, preset "
                               f"{preset}. ctrl+s starts it (jobs run one at a time).",
                               style="green"))
        self.query_one("#start", Button).disabled = bool(problems)
        return problems

    # -- events ----------------------------------------------------------------------------
    @on(Select.Changed, "#job-select")
    async def _job_changed(self, event: Select.Changed) -> None:
        if event.value == self.job or event.value is Select.BLANK:
            return
        self.job = str(event.value)
        preset = self.query_one("#preset-select", Select)
        self._building = True
        preset.set_options([(p, p) for p in SPEC_CLASSES[self.job].presets])
        preset.value = "default"
        await self._build_form("default")

    @on(Select.Changed, "#preset-select")
    async def _preset_changed(self, event: Select.Changed) -> None:
        if self._building or event.value is Select.BLANK or event.value != event.select.value:
            return  # a stale event: set_options picks a first option before the real one
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

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    def on_descendant_focus(self, event) -> None:
        wid = getattr(event.widget, "id", "") or ""
        helptext = ""
        if wid.startswith("f-"):
            name = wid[2:]
            f = next((f for f in spec_fields(self.job) if f.name == name), None)
            if f is not None:
                meta = f.metadata
                bounds = []
                if meta["minimum"] is not None:
                    bounds.append(f"≥ {meta['minimum']:g}")
                if meta["maximum"] is not None:
                    bounds.append(f"≤ {meta['maximum']:g}")
                if meta["optional"]:
                    bounds.append("none allowed")
                helptext = f"{flag_name(name)}: {meta['help']}" + (
                    f" ({', '.join(bounds)})" if bounds else "")
        elif wid == "job-select":
            helptext = "which job: t-SNE + GMM clusters without labels; VGG16 and CNN learn them"
        elif wid == "preset-select":
            helptext = "seed = the reference notebook's setup, default = our best"
        self.query_one("#field-help", Static).update(Text(helptext, style="italic"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    # -- actions ---------------------------------------------------------------------------
    def action_leave_field(self) -> None:
        self.set_focus(None)

    async def action_reset(self) -> None:
        await self._build_form(str(self.query_one("#preset-select", Select).value))

    def action_start(self) -> None:
        from mnist_tui.engine.specs import build_spec

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
        values, _ = self.read_form()
        preset = str(self.query_one("#preset-select", Select).value)
        try:
            spec = build_spec(self.job, preset, values)
        except SpecError as exc:
            self.app.notify(f"not started: {exc}", severity="error")
            return
        job = self.app.manager.submit(spec.to_dict())
        queued = len([j for j in self.app.manager.active() if j.state == "queued"])
        held = self.app.manager.held_by
        self.app.notify(f"{self.job} {job.job_id[-6:]} "
                        + (f"queued ({queued} waiting)" if job.state == "queued" else "started")
                        + (f": it starts when {held} ends" if held else ""))
        self.app.action_show("monitor")
