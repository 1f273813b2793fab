"""Devices: the catalog (``devices/*.yaml``), detection of the machine edgeres runs on, its description."""

from edgeres.devices.catalog import Device, PowerMode, get_device, load_catalog
from edgeres.devices.detect import DetectedDevice, detect, resolve_device
from edgeres.devices.host import cpu_info, describe_host

__all__ = ["DetectedDevice", "Device", "PowerMode", "cpu_info", "describe_host", "detect", "get_device", "load_catalog", "resolve_device"]
