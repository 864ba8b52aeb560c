"""Entry point: ``python app.py`` for a local server, ``gunicorn app:server`` in production."""
from dashboard.core.app import create_app

app = create_app()
server = app.server

if __name__ == "__main__":
    from dashboard.core import runtime

    config = runtime.config()
    app.run(host="127.0.0.1", port=8050, debug=config.debug)
