"""The Dockerfile frontend: text to typed instructions to a build graph.

``parser`` reads Dockerfile text, ``instructions`` types it, ``shell``
expands variables, ``linter`` reports build checks, ``dockerignore`` filters
the context, and ``convert`` builds the graph. Nothing here runs a build.
"""
