"""netc.compiler: checked spec -> networkx graph (shapes, lints) -> plan; renderings. The passes and
their order: compiler/passes.py."""
from .network import Network, read_source
from .passes import PASSES, compile_source, load_path

__all__ = ["Network", "PASSES", "compile_source", "load_path", "read_source"]
