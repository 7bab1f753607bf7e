"""The engine: everything mnist-tui does, without a front end. Never imports Textual or Rich.

    data/     MNIST and the bundled digits: files in every layout, verified downloads, the
              cache, dataset statistics, VGG16's weight file
    jobs/     one module per job (t-SNE + GMM, VGG16, CNN), the JobContext they report
              through, and the metrics they score with
    runs/     one run's life: its spec, the worker process that runs it, the events it emits,
              its typed records and the store that lists them, checks before launching
    suites/   many runs as one benchmark: suite specs and folders, the runner, reports
    errors.py what a user can fix (exit 2), shared by all of the above

Front ends (cli, batch, suite_batch, tui) sit above and import from here, never the reverse.
"""
