"""What every other package stands on: errors, paths, the artifact store and profiles.

- :mod:`kdlib.core.errors`     the exceptions kdlib raises for bad input (named file, line, key)
- :mod:`kdlib.core.paths`      where kdlib reads and writes (the clone, ``$KDLIB_HOME`` or the working directory)
- :mod:`kdlib.core.artifacts`  the one atomic writer, and ``artifacts/<profile>/<stage>/<hash>/``
- :mod:`kdlib.core.profiles`   ``tiny``, ``embedded``, ``msmarco``: YAML loaded into frozen dataclasses

Nothing here imports another kdlib package.
"""
