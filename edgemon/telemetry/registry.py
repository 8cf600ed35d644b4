"""Which telemetry sources this machine has, in merge order.

``build_sources(ctx, platform)`` probes every candidate and returns the
available ones (ready to hand to the :class:`~edgemon.telemetry.sampler.Sampler`)
and a status for every candidate, with the reason when it is not used.

Candidates are the built-in generic Linux readers plus every other module in
``edgemon.telemetry`` (Jetson sysfs readers, tegrastats, RAPL, NVML,
vcgencmd, ... written separately). Those modules are imported here, lazily, so
a module that is missing or fails to import never breaks the rest. A module
offers its sources by, in order of preference:

* ``build_sources(ctx, platform) -> list[Source]``, or
* ``SOURCES = [SourceClass, ...]``, or
* defining :class:`Source` subclasses that set their own ``name``.

On a Jetson the thermal-zone reader names zones the way tegrastats does
(``temp_cpu_c``), so both give the same metric and the sysfs reading wins.

Order (the sampler's "first source to set a key wins" makes it precedence):
Jetson sysfs readers, generic sysfs readers, other sysfs-like modules (RAPL),
command-based sources (tegrastats, vcgencmd), library-based ones (NVML, jtop),
and the process source last.

A specific source may declare ``replaces = ("thermal", ...)``: when it is
available, the named generic sources are left out (status says why), e.g. a
Jetson thermal reader replacing the generic thermal-zone reader.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from edgemon.telemetry.base import Source, SourceContext, SourceStatus

_PACKAGE = "edgemon.telemetry"

# Built-in generic Linux readers (sysfs/procfs), in merge order.
_GENERIC = (
    ("procstat", "ProcStatSource"),
    ("cpufreq", "CpuFreqSource"),
    ("memory", "MemorySource"),
    ("loadavg", "LoadAvgSource"),
    ("thermal", "ThermalSource"),
    ("hwmon", "HwmonSource"),
)
# Modules of the package that are not sources (or are handled explicitly).
_NOT_SOURCES = {"base", "sampler", "registry", "process"} | {m for m, _ in _GENERIC}

_JETSON_SYSFS, _GENERIC_SYSFS, _OTHER_SYSFS, _COMMAND, _LIBRARY, _PROCESS = range(6)


def _group(module: str) -> int:
    if module.startswith("jetson_"):
        return _JETSON_SYSFS
    if module.startswith(("tegrastats", "vcgencmd", "rpi")):
        return _COMMAND
    if module.startswith(("nvml", "jtop")):
        return _LIBRARY
    return _OTHER_SYSFS


def is_command_source(source: Source) -> bool:
    """True for sources that run a tool (tegrastats, vcgencmd): their reads start processes."""
    module = type(source).__module__.rsplit(".", 1)[-1]
    return _group(module) == _COMMAND


def optional_modules(package_name: str = _PACKAGE) -> list[str]:
    """Names of the other source modules present in the package now."""
    package = importlib.import_module(package_name)
    names = [m.name for m in pkgutil.iter_modules(package.__path__)]
    return sorted(n for n in names if n not in _NOT_SOURCES and not n.startswith("_"))


def _source_classes(module: Any) -> list[type]:
    declared = getattr(module, "SOURCES", None)
    if declared is not None:
        return list(declared)
    classes = []
    for obj in vars(module).values():       # definition order
        if (inspect.isclass(obj) and issubclass(obj, Source) and obj is not Source
                and obj.__module__ == module.__name__ and "name" in vars(obj)
                and not obj.__name__.startswith("_")):
            classes.append(obj)
    return classes


def _instantiate(package: str, module_name: str, ctx: SourceContext,
                 platform: Any) -> tuple[list[Source], list[SourceStatus]]:
    """Sources offered by one optional module; a status instead when it cannot load."""
    try:
        module = importlib.import_module(f"{package}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{package}.{module_name}":
            return [], []          # not written (yet): nothing to say
        return [], [SourceStatus(module_name, False, f"needs {exc.name} (not installed)")]
    except Exception as exc:       # a half-written module must not break the others
        return [], [SourceStatus(module_name, False, f"import failed: {type(exc).__name__}: {exc}")]
    try:
        builder = getattr(module, "build_sources", None)
        if callable(builder):
            return list(builder(ctx, platform)), []
        return [cls(ctx) for cls in _source_classes(module)], []
    except Exception as exc:
        return [], [SourceStatus(module_name, False, f"could not create sources: {type(exc).__name__}: {exc}")]


def _probe(src: Source) -> SourceStatus:
    name = getattr(src, "name", type(src).__name__)
    try:
        status = src.probe()
    except Exception as exc:       # probe must not raise; if it does, the source is out
        status = SourceStatus(name, False, f"probe failed: {type(exc).__name__}: {exc}")
    if not isinstance(status, SourceStatus):
        status = SourceStatus(name, False, f"probe returned {type(status).__name__}, not SourceStatus")
    return status


def _close(src: Source) -> None:
    try:
        src.close()
    except Exception:
        pass


def candidate_sources(ctx: SourceContext, platform: Any = None, *,
                      optional_package: str = _PACKAGE) -> tuple[list[Source], list[SourceStatus]]:
    """Every source that could run here, in merge order, unprobed; plus load failures.

    ``optional_package``: where to look for the optional source modules (tests point it
    at a package of their own).
    """
    from edgemon.telemetry.process import ProcessSource

    groups: dict[int, list[Source]] = {g: [] for g in range(6)}
    load_failures: list[SourceStatus] = []
    jetson = getattr(platform, "kind", None) == "jetson"
    for module_name, cls_name in _GENERIC:
        module = importlib.import_module(f"{_PACKAGE}.{module_name}")
        kwargs = {"naming": "tegra"} if module_name == "thermal" and jetson else {}
        groups[_GENERIC_SYSFS].append(getattr(module, cls_name)(ctx, **kwargs))
    for module_name in optional_modules(optional_package):
        sources, failures = _instantiate(optional_package, module_name, ctx, platform)
        groups[_group(module_name)].extend(sources)
        load_failures.extend(failures)
    groups[_PROCESS].append(ProcessSource(ctx))
    return [s for g in range(6) for s in groups[g]], load_failures


def build_sources(ctx: SourceContext, platform: Any = None, *,
                  optional_package: str = _PACKAGE) -> tuple[list[Source], list[SourceStatus]]:
    """``(available sources in merge order, a status for every candidate)``. Never raises.

    ``platform``: a :class:`~edgemon.platform.detect.PlatformInfo` (detected under
    ``ctx.root`` when ``None``), handed to modules that offer ``build_sources``.
    """
    if platform is None:
        from edgemon.platform.detect import detect
        platform = detect(ctx.root)
    candidates, statuses = candidate_sources(ctx, platform, optional_package=optional_package)
    probed = [(src, _probe(src)) for src in candidates]

    replaced: dict[str, str] = {}
    for src, status in probed:
        if status.available:
            for name in getattr(src, "replaces", ()) or ():
                replaced.setdefault(name, status.name)

    sources: list[Source] = []
    for src, status in probed:
        if status.available and replaced.get(status.name, status.name) != status.name:
            status = SourceStatus(status.name, False, f"replaced by {replaced[status.name]}", status.detail)
        if status.available:
            sources.append(src)
        else:
            _close(src)
        statuses.append(status)
    return sources, statuses
