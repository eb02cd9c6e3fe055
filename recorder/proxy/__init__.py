"""What the command line needs to start and steer a proxy, without mitmproxy's addons.

`recorder` is the library and the command line; `addons` is the mitmproxy side and
imports `recorder`, never the other way. The one place where the command line needs
the mitmproxy side, starting a proxy, goes through the `mockrec.engine` entry point
(declared in pyproject.toml), the same seam pytest uses for its plugins.
"""

from __future__ import annotations

from importlib import metadata

from recorder.errors import MockrecError
from recorder.proxy.config import ProxyConfig

ENGINE_GROUP = "mockrec.engine"


def serve(config: ProxyConfig) -> None:
    """Run a proxy until SIGINT/SIGTERM, with the engine that is installed."""
    engines = metadata.entry_points(group=ENGINE_GROUP, name="serve")
    if not engines:
        raise MockrecError("mockrec's proxy engine is not installed: reinstall mockrec "
                           "(pip install -e .)")
    next(iter(engines)).load()(config)
