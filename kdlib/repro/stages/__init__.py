"""The reproduction's cached stages, one module per kind of result.

- :mod:`~kdlib.repro.stages.teachers`  our own teacher, teacher files (T1, T2, ablations), teacher runs
- :mod:`~kdlib.repro.stages.students`  trained students, their test runs, untrained starts
- :mod:`~kdlib.repro.stages.fit`       how well a student ranks its own training queries
- :mod:`~kdlib.repro.stages.analyses`  score distributions, latency, dense retrieval

Each stage is declared with :func:`kdlib.repro.stage.stage` and cached under ``artifacts/``.
"""
