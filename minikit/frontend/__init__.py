"""The Dockerfile frontend: text to typed instructions to a build graph.

``encoding`` checks that a build's Dockerfile is text, ``parser`` reads it,
``instructions`` types it, ``shell`` expands variables, ``linter`` reports
build checks, ``dockerignore`` filters the context, and ``convert`` builds
the graph. Nothing here runs a build.
"""
