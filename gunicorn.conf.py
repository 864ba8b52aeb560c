"""Production server settings: ``gunicorn app:server`` reads this file from the working folder."""
import multiprocessing
import os

bind = os.environ.get("BD_BIND", "0.0.0.0:8050")
workers = int(os.environ.get("BD_WORKERS", min(4, multiprocessing.cpu_count())))
threads = int(os.environ.get("BD_THREADS", "4"))
# gunicorn's threaded worker, answering a too-long link with a page of our own (its limits kept).
worker_class = "dashboard.core.worker.Worker"
# Load the app (and its read-only data) once in the master; workers share it copy-on-write.
# Database connections are opened lazily inside each worker, after the fork.
preload_app = True
timeout = int(os.environ.get("BD_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("BD_LOG_LEVEL", "info").lower()
