"""gunicorn settings for the Procfile's command."""

import os

# gunicorn 27's control socket has one path per user: a second instance would collide.
control_socket_disable = True

# Threads, not sync workers: a client that sends half a request and waits holds
# one thread, not the whole worker (nor its courier). Idle connections go back to
# gunicorn's poller after 5 s; the reverse proxy in front (README, Security)
# buffers slow clients so that none of this is reached in production.
worker_class = "gthread"
threads = 64

# Pixel URLs are short, but a mangled one should still get its image: allow
# gunicorn's largest request line (its default is 4094 bytes).
limit_request_line = 8190

# A kept-alive connection is closed after this many requests (nginx's keepalive_requests):
# the client reconnects, and the least busy worker accepts it first. Without it, a few
# long-lived connections (a load balancer's or nginx's upstream pool, an image proxy)
# can all land on one worker and leave the others idle.
KEEPALIVE_REQUESTS = 100

# The courier runs in a process of its own beside the request workers (gunicorn's
# dirty-worker pool starts it, restarts it if it dies, and stops it with the master):
# a flood of opens then costs the pixel only the CPU the courier is given.
dirty_apps = ["read_receipts.operations.courier_process:CourierProcess"]
dirty_workers = 1
# gunicorn keeps the courier's supervisor pid in a file named after proc_name; a name of
# this master's own lets two instances run on one host without taking each other for leftovers.
proc_name = f"read-receipts-{os.getpid()}"


def on_starting(server):
    """Check the settings and upgrade the store before any worker starts: a mistake stops start-up once, clearly."""
    # Imported here: a module-level name `config` would be read as gunicorn's own setting.
    from config import load_settings_or_exit
    from read_receipts.operations.startup import prepare_store

    prepare_store(load_settings_or_exit())


def pre_request(worker, req):
    """Close a kept-alive connection after KEEPALIVE_REQUESTS requests, so connections spread over the workers."""
    if req.req_number >= KEEPALIVE_REQUESTS:
        req.must_close = True
