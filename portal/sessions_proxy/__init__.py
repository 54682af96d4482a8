"""The authenticating reverse proxy in front of interactive sessions (docs/sessions.md).

An ASGI application for paths under /sessions/<public id>/: it lets through only whom the session's
access rule admits and forwards HTTP and WebSockets to the session's JupyterLab over its UNIX socket.
"""
