"""guanwei (官微) — run an enterprise's official Weibo account matrix."""

__version__ = "0.1.0"
