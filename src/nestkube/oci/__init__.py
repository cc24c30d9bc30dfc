"""Image archives written and edited as files, with no engine: a leaf the providers, storage
and the image builders all use. Imports nothing of nestkube's but :mod:`nestkube.errors`."""
