"""WSGI entry point: gunicorn wsgi:app"""

from sight import create_app

app = create_app()
