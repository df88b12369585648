"""How `make run` serves (`gunicorn -c registry_site/gunicorn_conf.py registry_site.wsgi`), from the environment."""

import os

from registry_site.settings import DATA_DIR

_port = os.getenv("PORT", "8000")
bind = f"{os.getenv('HOST', '127.0.0.1')}:{_port}"
workers = int(os.getenv("WORKERS", "2"))
threads = 4
# Uploads and downloads are streamed; a large one on a slow link takes long.
timeout = 300
accesslog = "-"
# gunicorn's default line, then the request body's declared size: bytes in and out of every request are logged.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" in=%({content-length}i)s'
# gunicorn's default control socket is one per user ($HOME/.gunicorn/gunicorn.ctl): a second server on the
# same machine would take it over. One per port under DATA_DIR instead.
control_socket = str(DATA_DIR / f"gunicorn-{_port}.ctl")
