"""What the client side hands to a build: secrets, SSH agents, local folders."""

from minikit.session.secrets import SecretSpec, SecretStore, parse_secret_flag
from minikit.session.session import Session

__all__ = ["SecretSpec", "SecretStore", "Session", "parse_secret_flag"]
