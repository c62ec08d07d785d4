"""The sources: every module (or package) here registers itself on import (publisher/source.py's registry).

Importing this package imports all of them, so adding a source is adding one module here — nothing else
lists sources by name.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
