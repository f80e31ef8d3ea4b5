"""selfeval-xl: review 绩效自评表 workbooks by the published rules."""
__version__ = "0.1.0"
