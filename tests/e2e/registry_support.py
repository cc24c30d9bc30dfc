"""What the registry tests on each engine share."""

from __future__ import annotations

import json


def spread(name: str, image: str, replicas: int, policy: str = "IfNotPresent") -> str:
    """A Deployment of ``image`` with one pod per node, the control plane included."""
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "tolerations": [{"operator": "Exists"}],
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "DoNotSchedule",
                                "labelSelector": {"matchLabels": {"app": name}},
                            }
                        ],
                        "terminationGracePeriodSeconds": 0,
                        "containers": [
                            {
                                "name": "app",
                                "image": image,
                                "imagePullPolicy": policy,
                                "command": ["sleep", "3600"],
                            }
                        ],
                    },
                },
            },
        }
    )
