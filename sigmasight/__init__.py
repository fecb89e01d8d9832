"""SigmaSight project package: settings, URLs, ASGI application and q-cluster configuration."""
