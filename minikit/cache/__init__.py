"""The content-addressed store: layers, blobs, cache records, prune."""
