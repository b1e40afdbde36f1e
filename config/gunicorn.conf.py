"""gunicorn settings (`gunicorn config.wsgi -c config/gunicorn.conf.py`).

Anonymity (design §5): no log line gunicorn writes may carry a client's address, User-Agent,
Referer or query string. The access log format has none of `%(h)s` (address), `%(a)s`
(User-Agent), `%(f)s` (Referer), `%(q)s` or `%(r)s` (query string): the path, the status, the
size and the hour only. Requests to the paths of anonymous acts (`/signaler/`, `/suivi/`,
`/prevention/`, `/api/public/`, the call platform's `/signalements/appel/`) are not logged at all
(`UnloggedPathsFilter`): even without address and to the hour, their lines sit in order among the
staff's, and the n-th successful POST of an hour would be the n-th report of that hour. Every
gunicorn log record also goes through the project's `ScrubIdentifyingDataFilter` (addresses
masked), as Django's do.

Overridable from the command line (`--bind`, `--workers`...) or the environment:
`CARTOSTUP_BIND` (127.0.0.1:8000), `CARTOSTUP_WORKERS` (4), `CARTOSTUP_ACCESS_LOG` (`-`: standard
output; empty: no access log).
"""

import os

bind = os.environ.get("CARTOSTUP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("CARTOSTUP_WORKERS", "4"))
timeout = int(os.environ.get("CARTOSTUP_TIMEOUT", "60"))
loglevel = "info"  # gunicorn logs "Invalid request from ip=..." at debug level
accesslog = os.environ.get("CARTOSTUP_ACCESS_LOG", "-") or None
# The date comes from the log formatter (gunicorn's `%(t)s` looks like an IPv6 address to the
# scrub filter, which would mask it).
access_log_format = '"%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "scrub": {"()": "cartostup.core.logging.ScrubIdentifyingDataFilter"},
        "unlogged_paths": {"()": "cartostup.core.logging.UnloggedPathsFilter"},
    },
    "formatters": {
        # The hour only: an exact time of a public request could be matched with its report
        # (references are sequential) or with network records.
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": "%Y-%m-%d %H:00",
        },
        "access": {"format": "%(asctime)s %(message)s", "datefmt": "%Y-%m-%d %H:00"},
    },
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stderr",
            "filters": ["scrub"],
        },
        "access_console": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
            # In this order: the path is read before the scrub filter formats the record.
            "filters": ["unlogged_paths", "scrub"],
        },
    },
    "root": {"level": "INFO", "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["access_console"] if accesslog else [],
            "propagate": False,
        },
    },
}
