"""Experiments: run records, comparisons and sweeps over seeds, figures and TensorBoard.

A run record is a folder of plain files (settings, spec, seed, engine, per-epoch metrics, summary);
`compare`, `sweep` and the figures read records, so a comparison can be redone without training.
Heavy libraries (matplotlib, tensorboardX) are imported only by the function that draws or writes.
"""
