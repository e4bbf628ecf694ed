"""The ``%%openrouter`` cell modes, one module each (``chat``, ``analyze``, ``image``, ``audio``
(also ``speech``), ``video``). Each exposes ``run(m, words, cell)``: parse the first line's words
with its ``magics/_parsing.py`` parser, build the tool's arguments, call it through
``magics/_run.py``. The table that maps a mode to its ``run`` is ``magics/_dispatch.py``.
"""
