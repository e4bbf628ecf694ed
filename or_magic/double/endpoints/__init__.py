"""The double's endpoints, one module per OpenRouter API family.

Each module holds one class (``ChatAPI``, ``ModelsAPI``, ...) that ``DoubleApp`` builds with
itself as ``app``: ``routes()`` lists the family's rows of the routing table, ``reset()`` forgets
the family's state (video jobs, batches, the key ledger). The app owns what crosses families:
routing, auth, faults, the response cache and ids (``app.py``).
"""
