"""gunicorn settings for the Procfile's command."""

import os
import signal
import time

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
    from config import hand_down, load_settings_or_exit
    from read_receipts.operations.startup import prepare_store

    settings = load_settings_or_exit()
    prepare_store(settings)
    # Every process forked from here on (request workers, the courier) runs with these: none reads `.env`
    # again, so a bad value written there while the service runs cannot stop a restarted worker.
    hand_down(settings)


def on_reload(server):
    """On `kill -HUP`, check `.env` again: good settings go to the new workers and a new courier, bad ones nowhere."""
    from config import ConfigError, hand_down, load_settings
    from read_receipts.operations.startup import prepare_store

    try:
        settings = load_settings()
        prepare_store(settings)  # prints why and raises SystemExit when the store cannot be used
    except ConfigError as error:
        _refuse_reload(server, str(error))
        return
    except SystemExit:
        _refuse_reload(server, "the store cannot be used (see above).")
        return
    except Exception as error:  # anything raised here would stop the master, pixel included
        _refuse_reload(server, f"the settings could not be checked ({type(error).__name__}: {error}).")
        return
    hand_down(settings)
    server.log.info("reload: .env checked; the new request workers and a new courier run with it")
    _restart_courier(server)


def _refuse_reload(server, reason):
    """Say why a reload changes nothing, and what to do."""
    server.log.error(
        "reload refused: %s The service runs on with the settings it had: fix .env, then reload again.", reason
    )


def _restart_courier(server):
    """Stop the courier's supervisor (gunicorn's dirty arbiter); the master forks a new one, with the new settings."""
    # gunicorn forwards HUP to the dirty arbiter, which keeps a one-worker app's process as it is.
    server.kill_dirty_arbiter(signal.SIGTERM)
    deadline = time.monotonic() + server.cfg.dirty_graceful_timeout + 5
    while server.dirty_arbiter_pid and time.monotonic() < deadline:
        time.sleep(0.05)
        server.reap_dirty_arbiter()
    if server.dirty_arbiter_pid:
        server.kill_dirty_arbiter(signal.SIGKILL)
        time.sleep(0.1)
        server.reap_dirty_arbiter()
    # With no arbiter pid left, the master's loop spawns the new one right after this reload (and the new
    # one never sees the HUP the master forwards at the end of it).


def pre_request(worker, req):
    """Close a kept-alive connection after KEEPALIVE_REQUESTS requests, so connections spread over the workers."""
    if req.req_number >= KEEPALIVE_REQUESTS:
        req.must_close = True
