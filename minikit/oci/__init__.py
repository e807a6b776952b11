"""OCI and Docker image format types: references, media types, descriptors."""
