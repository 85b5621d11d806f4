"""Presentation: executing the chapters, the Sphinx extension, and the figures.

- :mod:`kdlib.book.runner`   executes the notebooks with papermill in dependency order, then ``jupyter-book build``
- :mod:`kdlib.book.bookext`  the book's Sphinx extension (MathJax offline, parameters cells, launch buttons)
- :mod:`kdlib.book.plots`    every figure of the book
- :mod:`kdlib.book.verdicts` the claims' verdicts: an overview table and one box per verdict

Nothing here changes what a stage computes, so this package is left out of the code
fingerprint (:func:`kdlib.core.artifacts.code_fingerprint`).
"""
