"""The HTTP API at /api/v1/: one NinjaAPI (assembled in guanwei.api.urls from each app's
router), authenticated by personal token or by the browser session."""
