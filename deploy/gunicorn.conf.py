# gunicorn settings for one app server: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.
# Every value can be changed from the environment (the systemd unit reads /etc/sight/sight.env).
import os

from dotenv import load_dotenv

from sight.config import check_settings, refuse_per_process_rate_limits

load_dotenv(override=False)

# nginx talks to each app server on this address (see deploy/nginx/sight.conf).
bind = os.environ.get("BIND", "127.0.0.1:8001")
# Threaded workers: a long export stream is not killed as a stuck worker.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("THREADS", "8"))
timeout = 120
graceful_timeout = 30
# The app writes one structured line per request itself; gunicorn's own access log would repeat it.
accesslog = None
errorlog = "-"
# gunicorn's own lines (starting, workers, errors) as JSON on stderr too, like the app's (sight/logs.py).
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "sight.logs.json_formatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": []},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False}},
}


def on_starting(server):
    # A bad setting stops the server here, one line each, before any worker starts.
    check_settings(dict(os.environ))
    # Rate limits counted in memory would be counted once per worker: refuse to start.
    refuse_per_process_rate_limits(dict(os.environ), server.cfg.workers)
