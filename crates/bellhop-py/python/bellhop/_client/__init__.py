"""The HTTP client's parts, one job a module; :mod:`bellhop.client` is their public face."""
