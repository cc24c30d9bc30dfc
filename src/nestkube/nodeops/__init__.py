"""Operations on running nodes that create, start/stop, load and the facade share.

Below :mod:`nestkube.create` and :mod:`nestkube.lifecycle`: it knows nodes, files in them,
their routes, DNS forwarding and the load balancer, and nothing of a create in progress.
Nothing outside :mod:`nestkube.create` imports its steps; what the others need of a node is
here.
"""
