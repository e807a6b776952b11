"""minikit: a daemonless, rootless Dockerfile builder that behaves like BuildKit."""

__version__ = "0.1.0"
