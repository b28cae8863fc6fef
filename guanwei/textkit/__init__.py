"""textkit — Django-free Chinese text tools: normalise, Weibo length, the monitor query language,
sentiment and near-duplicate voices. Import the submodules directly (``guanwei.textkit.query``);
this package imports nothing on its own so that each tool loads only what it needs."""
