"""Local stand-ins for vendor APIs: ASGI apps served on 127.0.0.1 by ``server.serve``."""
