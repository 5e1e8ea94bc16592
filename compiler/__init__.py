"""netc.compiler: checked spec -> networkx graph (shapes, lints) -> renderings."""
from .network import Network, compile_source, load_path, read_source

__all__ = ["Network", "compile_source", "load_path", "read_source"]
