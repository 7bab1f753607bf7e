"""The project's own exceptions: each carries a one-line message fit to show a user as `error: …`."""


class MnistTuiError(Exception):
    """Base class: an input the user can fix. Front ends print `error: <message>` and exit 2."""


class DataError(MnistTuiError):
    """Data that cannot be read or is not valid MNIST-format data (the message names the file)."""


class DownloadError(DataError):
    """MNIST could not be downloaded (offline, every mirror failed, checksum mismatch)."""


class SpecError(MnistTuiError):
    """A job spec with a bad value (the message names the field)."""


class JobFailed(Exception):
    """A job that ran but produced no valid result (a collapsed embedding): the run is recorded
    as failed (exit 3) with this one-line reason, never as a finished run; not a crash, so no
    traceback is recorded."""
