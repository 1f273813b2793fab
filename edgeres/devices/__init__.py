"""Devices: the machine edgeres runs on (and, later, the catalog and remote boards)."""

from edgeres.devices.host import cpu_info, describe_host

__all__ = ["cpu_info", "describe_host"]
