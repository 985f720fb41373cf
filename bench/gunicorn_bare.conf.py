"""gunicorn settings for the benchmarks: none. The project's gunicorn.conf.py turns on access logs, which
production wants and a measurement of the app does not."""
