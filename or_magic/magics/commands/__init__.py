"""The ``%openrouter`` line commands, grouped by what they are about: ``catalog`` (models, info,
health), ``jobs`` (jobs, wait, cancel, status, batches), ``session`` (usage, reset, history,
key, config, help, dashboard) and ``mcp``. Each command is a function ``(m, words)``; the table
that maps a command word to it is ``magics/_dispatch.py``.
"""
