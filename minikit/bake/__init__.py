"""Bake files: HCL or JSON target definitions turned into build requests."""
