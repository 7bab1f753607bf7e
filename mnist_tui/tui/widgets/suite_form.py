"""The Suites screen's form: which suite (seed or sweep), its methods, sizes, seeds, VGG16 input
size and job options; the `SuiteSpec` it describes, and a recorded suite's spec shown in it.

Its layout and look are the screen's CSS (`#suite-form`, `.sf-row`, `#sf-…`). Changing the
suite fills in that suite's default sizes and seeds; opening a recorded suite fills in what it
ran (`fill`) without that reset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select

from mnist_tui.engine.suites.spec import (
    DEFAULT_SEEDS,
    DEFAULT_VGG_INPUT_SIZE,
    SEED_SIZES,
    SWEEP_SIZES,
    SuiteSpec,
)
from mnist_tui.engine.suites.spec_text import parse_options, seeds_text
from mnist_tui.tui.widgets.fields import FieldInput

if TYPE_CHECKING:
    from textual.widget import Widget

# Each suite's sizes and seeds as the form shows them: the engine's defaults, as text.
DEFAULTS = {name: {"sizes": ",".join(map(str, sizes)), "seeds": seeds_text(DEFAULT_SEEDS[name])}
            for name, sizes in (("sweep", SWEEP_SIZES), ("seed", SEED_SIZES))}
FIELDS = ("methods", "sizes", "seeds", "vgg", "options")
TOOLTIPS = {
    "methods": "comma-separated: tsne-gmm, vgg16, cnn",
    "sizes": "numbers of images (seed suite: t-SNE + GMM's; add samples=N to options for the "
             "classifiers')",
    "seeds": "N seeds (0…N-1) or a list 0,7,9",
    "vgg": "VGG16 input size (32 to 224; the notebook's 224)",
    "options": "job options for every member they fit, as name=value: epochs=1 iterations=260 "
               "…; presets=default,refined chooses presets",
}


class SuiteForm(Vertical):
    """The suite's options, as text fields edited on purpose (`fields.FieldInput`)."""

    def __init__(self, options: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.options = options         # the options field's first value
        self._filling: str | None = None

    def compose(self) -> ComposeResult:
        from mnist_tui.engine.jobs.specs import JOB_NAMES

        with Horizontal(classes="sf-row"):
            yield Label("suite", classes="sf-label first")
            yield Select([("sweep", "sweep"), ("seed", "seed")], value="sweep",
                         allow_blank=False, id="sf-suite", compact=True)
            yield Label("methods", classes="sf-label")
            yield FieldInput(",".join(JOB_NAMES), id="sf-methods", compact=True)
            yield Label("sizes", classes="sf-label")
            yield FieldInput(DEFAULTS["sweep"]["sizes"], id="sf-sizes", compact=True)
        with Horizontal(classes="sf-row"):
            yield Label("seeds", classes="sf-label first")
            yield FieldInput(DEFAULTS["sweep"]["seeds"], id="sf-seeds", compact=True)
            yield Label("vgg px", classes="sf-label")
            yield FieldInput(str(DEFAULT_VGG_INPUT_SIZE), id="sf-vgg", compact=True)
            yield Label("options", classes="sf-label")
            yield FieldInput(self.options, placeholder="e.g. epochs=1 iterations=260",
                             id="sf-options", compact=True)

    def on_mount(self) -> None:
        for name, tip in TOOLTIPS.items():
            field: Widget = self.query_one(f"#sf-{name}")
            field.tooltip = tip

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

    def key(self) -> tuple[str, ...]:
        """The form's values as they stand (what a plan is for)."""
        return (str(self.query_one("#sf-suite", Select).value),
                *(self._field(n).value for n in FIELDS))

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
        # presets=a,b in the options chooses the presets (as --presets does); by default
        # each method runs its suite's presets (t-SNE + GMM: default and refined)
        presets = given.pop("presets", None)
        return suite_spec_from_text(str(self.query_one("#sf-suite", Select).value),
                                    methods=val("methods"), sizes=val("sizes"),
                                    seeds=val("seeds"), vgg_input_size=val("vgg"),
                                    presets=presets, given=given)

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
        options = [f"{k.replace('_', '-')}={v}" for k, v in spec.get("overrides", {}).items()]
        presets = spec.get("presets") or []
        if presets and tuple(presets) != SuiteSpec(name=spec["suite"],
                                                   methods=tuple(spec["methods"])).presets:
            options.append("presets=" + ",".join(presets))   # what the suite ran, not today's
        self._field("options").value = " ".join(options)
