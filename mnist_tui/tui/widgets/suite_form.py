"""The Suites screen's form: which suite (seed or sweep), its methods, presets, sizes, seeds, VGG16
input size, Keras backends and job options; where its members run (executor local or ray,
members at once, the Ray cluster's address); the `SuiteSpec` and `ExecutorChoice` it describes, and a recorded suite's
spec shown in it.

Its layout and look are its CSS below (`.sf-row`, `#sf-…`; the screen sizes `#suite-form`).
Changing the suite fills in that suite's default sizes and seeds; opening a recorded suite
fills in what it ran (`fill`) without that reset. The presets field shows the presets each
method runs (a method skips those it lacks): the engine's default for the suite and its methods
(`spec.DEFAULT_PRESETS`, the same `--presets` documents), followed as the suite and methods
change until it is edited; `presets=a,b` in the options still chooses them (it wins).
The focused field's label is marked `▶` (fields.py). The Ray address is shown (and so can be
focused) only while the executor is ray; the engine's `executor_choice` checks the values
(`read_choice`), and choosing ray imports Ray in a thread at once (its import takes a second:
not on the UI thread when the plan line checks the form).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Select

from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.jobs.specs import JOB_NAMES
from mnist_tui.engine.suites.spec import (
    DEFAULT_SEEDS,
    DEFAULT_VGG_INPUT_SIZE,
    SEED_SIZES,
    SWEEP_SIZES,
    SuiteSpec,
)
from mnist_tui.engine.suites.spec_text import parse_options, seeds_text
from mnist_tui.tui.widgets.fields import FieldInput, FieldLabel

if TYPE_CHECKING:
    from textual.widget import Widget

    from mnist_tui.engine.suites.records import ExecutorChoice

# Each suite's sizes and seeds as the form shows them: the engine's defaults, as text.
DEFAULTS = {name: {"sizes": ",".join(map(str, sizes)), "seeds": seeds_text(DEFAULT_SEEDS[name])}
            for name, sizes in (("sweep", SWEEP_SIZES), ("seed", SEED_SIZES))}
FIELDS = ("methods", "presets", "sizes", "seeds", "vgg", "backends", "options", "parallel",
          "ray")
TOOLTIPS = {
    "methods": "comma-separated: tsne-gmm, vgg16, cnn",
    "presets": "comma-separated presets, each run by every method that has it (t-SNE + GMM: "
               "seed, default, refined = default then self-training; VGG16, CNN: seed, "
               "default); the default follows the suite and its methods",
    "sizes": "numbers of images (seed suite: t-SNE + GMM's; add samples=N to options for the "
             "classifiers')",
    "seeds": "N seeds (0…N-1) or a list 0,7,9",
    "vgg": "VGG16 input size (32 to 224; the notebook's 224)",
    "backends": "Keras backends to compare, e.g. tensorflow,jax (of tensorflow, jax, torch): "
                "each member that trains with Keras runs once per backend; empty = every "
                "member on its backend (options backend=…, default tensorflow)",
    "options": "job options for every member they fit, as name=value: epochs=1 iterations=260 "
               "…",
    "executor": "where the members run: local (this machine) or ray (a Ray cluster)",
    "parallel": "members at once (local: cores or GPUs are shared out between them; ray: empty "
                "= as many as the cluster has room for)",
    "ray": "the Ray cluster: auto (a running one, else a local Ray started for the suite), "
           "HOST:PORT of its head node, or ray://HOST:PORT",
}


def default_presets(suite: str, methods: str) -> str | None:
    """The presets a suite of these methods runs when none are given (the engine's
    `DEFAULT_PRESETS`, less those no method has), as the field shows them; None when the
    methods are not valid yet."""
    names = tuple(m.strip() for m in methods.split(",") if m.strip())
    if suite not in DEFAULTS or not names or any(m not in JOB_NAMES for m in names):
        return None
    return ",".join(SuiteSpec(name=suite, methods=names).presets)


class SuiteForm(Vertical):
    """The suite's options, as text fields edited on purpose (`fields.FieldInput`)."""

    DEFAULT_CSS = """
    SuiteForm .sf-row { height: 1; }
    SuiteForm .sf-label { width: auto; padding: 0 1 0 0; color: $text-muted; }
    SuiteForm #sf-suite { width: 11; }
    SuiteForm #sf-methods, SuiteForm #sf-sizes, SuiteForm #sf-options { width: 1fr; }
    SuiteForm #sf-seeds { width: 8; }
    SuiteForm #sf-vgg { width: 6; }
    SuiteForm #sf-backends { width: 15; }
    SuiteForm #sf-executor { width: 11; }
    SuiteForm #sf-parallel { width: 6; }
    SuiteForm #sf-presets { width: 1fr; }
    SuiteForm #sf-ray-part { width: 1fr; height: 1; }
    SuiteForm #sf-ray { width: 1fr; }
    """

    def __init__(self, options: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.options = options         # the options field's first value
        self._filling: str | None = None
        self._auto_presets: str | None = default_presets("sweep", ",".join(JOB_NAMES))

    def compose(self) -> ComposeResult:
        with Horizontal(classes="sf-row"):
            yield FieldLabel("suite", classes="sf-label")
            yield Select([("sweep", "sweep"), ("seed", "seed")], value="sweep",
                         allow_blank=False, id="sf-suite", compact=True)
            yield FieldLabel("methods", classes="sf-label")
            yield FieldInput(",".join(JOB_NAMES), id="sf-methods", compact=True)
            yield FieldLabel("sizes", classes="sf-label")
            yield FieldInput(DEFAULTS["sweep"]["sizes"], id="sf-sizes", compact=True)
        with Horizontal(classes="sf-row"):
            yield FieldLabel("seeds", classes="sf-label")
            yield FieldInput(DEFAULTS["sweep"]["seeds"], id="sf-seeds", compact=True)
            yield FieldLabel("vgg px", classes="sf-label")
            yield FieldInput(str(DEFAULT_VGG_INPUT_SIZE), id="sf-vgg", compact=True)
            yield FieldLabel("backends", classes="sf-label")
            yield FieldInput("", placeholder="tensorflow", id="sf-backends", compact=True)
            yield FieldLabel("options", classes="sf-label")
            yield FieldInput(self.options, placeholder="e.g. epochs=1 iterations=260",
                             id="sf-options", compact=True)
        with Horizontal(classes="sf-row"):
            yield FieldLabel("executor", classes="sf-label")
            yield Select([("local", "local"), ("ray", "ray")], value="local",
                         allow_blank=False, id="sf-executor", compact=True)
            yield FieldLabel("parallel", classes="sf-label")
            yield FieldInput("1", id="sf-parallel", compact=True)
            yield FieldLabel("presets", classes="sf-label")
            yield FieldInput(self._auto_presets or "", id="sf-presets", compact=True)
            with Horizontal(id="sf-ray-part"):
                yield FieldLabel("ray address", classes="sf-label")
                yield FieldInput("auto", id="sf-ray", compact=True)

    def on_mount(self) -> None:
        for name, tip in TOOLTIPS.items():
            field: Widget = self.query_one(f"#sf-{name}")
            field.tooltip = tip
        self.query_one("#sf-ray-part").display = False   # hidden: not a tab stop either

    @on(Select.Changed, "#sf-executor")
    def _executor_changed(self, event: Select.Changed) -> None:
        ray = event.value == "ray"
        self.query_one("#sf-ray-part").display = ray
        if ray:
            self._import_ray()

    @work(thread=True, exclusive=True, group="sf-ray-import", exit_on_error=False)
    def _import_ray(self) -> None:
        """Ray's import (a second) in a thread, before the form's check needs it."""
        from mnist_tui.engine.suites.executors import check_ray_installed

        try:
            check_ray_installed()
        except SpecError:
            pass      # the form's check says so

    def _field(self, name: str) -> Input:
        return self.query_one(f"#sf-{name}", Input)

    @on(Select.Changed, "#sf-suite")
    def _suite_changed(self, event: Select.Changed) -> None:
        if self._filling == event.value:   # set by opening a suite, not by the user
            self._filling = None
            event.stop()
            return
        d = DEFAULTS.get(str(event.value))
        if d:
            self._field("sizes").value = d["sizes"]
            self._field("seeds").value = d["seeds"]
        self._follow_presets()

    @on(Input.Changed, "#sf-methods")
    def _methods_changed(self) -> None:
        self._follow_presets()

    def _follow_presets(self) -> None:
        """The presets field follows the suite's default while it shows the default."""
        field = self._field("presets")
        if self._auto_presets is None or field.value.strip() != self._auto_presets:
            self._auto_presets = None          # edited: it is the user's now
            return
        new = default_presets(str(self.query_one("#sf-suite", Select).value),
                              self._field("methods").value)
        if new is not None:
            self._auto_presets = new
            if field.value != new:
                field.value = new

    def key(self) -> tuple[str, ...]:
        """The form's values as they stand (what a plan is for)."""
        return (str(self.query_one("#sf-suite", Select).value),
                str(self.query_one("#sf-executor", Select).value),
                *(self._field(n).value for n in FIELDS))

    def read_choice(self) -> ExecutorChoice:
        """Where the members run, checked by the engine (SpecError with a one-line reason:
        a bad value, or Ray not installed)."""
        from mnist_tui.engine.suites.executors import executor_choice

        kind = str(self.query_one("#sf-executor", Select).value)
        text = self._field("parallel").value.strip()
        try:
            parallel = int(text) if text else None
        except ValueError:
            raise SpecError(f"parallel: give a whole number of members at once (got "
                            f"{text!r})") from None
        address = self._field("ray").value.strip() or None if kind == "ray" else None
        return executor_choice(kind, parallel, address)

    def read_spec(self, data_dir: str | None) -> SuiteSpec:
        """The SuiteSpec of the form (SpecError with a one-line reason); `data_dir`: the app's,
        for members reading MNIST."""
        from mnist_tui.engine.suites.spec_text import suite_spec_from_text

        def val(name: str) -> str | None:
            text = self._field(name).value.strip()
            return text or None

        given: dict[str, Any] = dict(parse_options(self._field("options").value))
        if data_dir and "data_dir" not in given and given.get("dataset") != "digits":
            given["data_dir"] = data_dir
        # the presets field (as --presets), unless it still shows the default (the engine's
        # default for the methods read now); presets=a,b in the options still chooses them
        following = self._auto_presets is not None \
            and self._field("presets").value.strip() == self._auto_presets
        presets = given.pop("presets", None) or (None if following else val("presets"))
        return suite_spec_from_text(str(self.query_one("#sf-suite", Select).value),
                                    methods=val("methods"), sizes=val("sizes"),
                                    seeds=val("seeds"), vgg_input_size=val("vgg"),
                                    backends=val("backends"), presets=presets, given=given)

    def fill(self, spec: dict[str, Any]) -> None:
        """Show what a recorded suite ran (its report's `suite` part)."""
        select = self.query_one("#sf-suite", Select)
        if select.value != spec["suite"]:
            self._filling = spec["suite"]
            select.value = spec["suite"]
        self._field("methods").value = ",".join(spec["methods"])
        self._field("sizes").value = ",".join(map(str, spec["sizes"]))
        self._field("seeds").value = seeds_text(spec["seeds"])
        self._field("vgg").value = str(spec["vgg_input_size"])
        self._field("backends").value = ",".join(spec.get("backends") or ())
        options = [f"{k.replace('_', '-')}={v}" for k, v in spec.get("overrides", {}).items()]
        presets = ",".join(spec.get("presets") or [])     # what the suite ran, not today's
        default = default_presets(spec["suite"], ",".join(spec["methods"]))
        self._auto_presets = presets if presets == default else None
        self._field("presets").value = presets or (default or "")
        self._field("options").value = " ".join(options)
