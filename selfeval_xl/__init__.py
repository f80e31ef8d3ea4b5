"""selfeval-xl: review 绩效自评表 workbooks by the published rules."""
__version__ = "0.1.0"


def frames(outbox, indicators: bool = True):
    """The batch in ``outbox`` as pandas DataFrames (``projects``, ``indicators``, ``findings``,
    ``files``); see ``selfeval_xl.tables``. pandas is imported only when this is called."""
    from .tables import frames as _frames

    return _frames(outbox, indicators=indicators)
