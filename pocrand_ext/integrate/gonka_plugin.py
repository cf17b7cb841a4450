"""Adopting pocrand under an installed gonka-poc plugin without editing it: a `vllm.general_plugins`
entry point (the group the plugin itself registers in) that, when the operator sets
POCRAND_SWAP_GONKA_POC=1, points the plugin modules' functions at pocrand's drop-ins.

What it does, in order:
1. Nothing at all unless POCRAND_SWAP_GONKA_POC is "1" (vLLM loads every general plugin in every
   process; without the opt-in this one only returns).
2. Reads the installed plugin's version (distribution "gonka-poc"). A version pocrand was not
   verified against (VERIFIED_VERSIONS) is refused loudly: an error is logged and nothing is
   changed, so the node runs the plugin as installed.
3. For each plugin module in SWAPS, replaces every function that pocrand's drop-in module of the
   same name provides (its __all__), except KEEP, then rebinds the names other loaded gonka_poc
   modules imported from it (`from .data import decode_vector`), and logs what it swapped.

The plugin imports most of these functions inside the functions that call them, so the swap
holds whichever general plugin vLLM loads first. The codebook stays the plugin's file
(get_sphere_codebook is kept: pocrand's snap takes the codebook as an argument).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import os
import sys

logger = logging.getLogger(__name__)

ENV = "POCRAND_SWAP_GONKA_POC"
DISTRIBUTION = "gonka-poc"
VERIFIED_VERSIONS = ("0.2.0",)

# plugin module -> pocrand's drop-in module of the same computations
SWAPS = {
    "gonka_poc.poc.gpu_random": "pocrand_ext.gonka_poc.gpu_random",
    "gonka_poc.poc.decode_random": "pocrand_ext.gonka_poc.decode_random",
    "gonka_poc.poc.sphere": "pocrand_ext.gonka_poc.sphere",
    "gonka_poc.poc.fused": "pocrand_ext.gonka_poc.fused",
    "gonka_poc.poc.data": "pocrand_ext.gonka_poc.data",
    "gonka_poc.poc.validation": "pocrand_ext.gonka_poc.validation",
    # decode_random's host-side pick keeps the CUDA order, so the vector channel's slices must be
    # pocrand's too (SPEC.md 9.4's host order): swapped together, always.
    "gonka_poc.mixed.runtime": "pocrand_ext.gonka_poc.runtime",
}
KEEP = {("gonka_poc.poc.sphere", "get_sphere_codebook")}


def installed_version() -> str | None:
    """The installed plugin's version, or None when it is not installed."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def _functions(module) -> dict:
    return {n: v for n, v in vars(module).items() if inspect.isfunction(v)}


def swap(plugin_modules=SWAPS, keep=KEEP) -> dict:
    """{plugin module: [names swapped]}: the swap itself (no opt-in or version check; register()
    makes them). A plugin module that cannot be imported is skipped with a warning."""
    done, replaced = {}, {}
    for target, source in plugin_modules.items():
        try:
            plugin = importlib.import_module(target)
        except ImportError as e:
            logger.warning("pocrand: %s not swapped: it does not import (%s)", target, e)
            continue
        ours = importlib.import_module(source)
        theirs = _functions(plugin)
        names = [n for n in getattr(ours, "__all__", ()) if n in theirs and (target, n) not in keep
                 and callable(getattr(ours, n, None))]
        for n in names:
            replaced[id(theirs[n])] = (theirs[n], getattr(ours, n))
            setattr(plugin, n, getattr(ours, n))
        done[target] = names
    # names other plugin modules bound at import (from .data import decode_vector)
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "gonka_poc" or name.startswith("gonka_poc.")):
            continue
        for attr, value in list(vars(module).items()):
            hit = replaced.get(id(value))
            if hit is not None and hit[0] is value:
                setattr(module, attr, hit[1])
    return done


def register() -> None:
    """The vllm.general_plugins entry point (see the module docstring)."""
    if os.environ.get(ENV) != "1":
        return
    version = installed_version()
    if version is None:
        logger.warning("pocrand: %s=1 but the gonka-poc plugin is not installed: nothing swapped",
                       ENV)
        return
    if version not in VERIFIED_VERSIONS:
        logger.error("pocrand: REFUSING to swap the gonka-poc plugin's functions: version %s is "
                     "not one pocrand was verified with (%s). The plugin runs as installed; "
                     "unset %s or install a verified version.", version,
                     ", ".join(VERIFIED_VERSIONS), ENV)
        return
    done = swap()
    for target, names in done.items():
        logger.info("pocrand: %s: %d functions now pocrand's: %s", target, len(names),
                    ", ".join(names))
    logger.info("pocrand: swapped %d functions of gonka-poc %s in %d modules",
                sum(map(len, done.values())), version, len(done))
