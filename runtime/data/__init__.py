"""netc.runtime.data: loading, splitting and scaling the examples a .net file's data section names.

    load_data(settings, seed=, base_dir=, default_classes=) -> Dataset
    describe_source(settings) -> "digits: 1797 examples, 64 features, 10 classes"
    iter_batches(x, y, batch, rng) -> minibatches

Modules: errors (DataError), raw (a loaded source), files (paths, gzip, npz), csvfile, idx,
bundled (the shipped sets), generated (seeded toy sets), sources (the table of loaders by kind),
prepare (split, scaling, batches), dataset (Dataset and load_data).
"""
from .dataset import Dataset, bootstrap, load_data
from .errors import DataError
from .prepare import iter_batches
from .sources import SOURCES, describe_source

__all__ = ["DataError", "Dataset", "bootstrap", "load_data", "describe_source", "iter_batches", "SOURCES"]
