"""graphrep: transferable representations of graphs and of data seen as graphs.

Subpackages, in import order (each imports only from the ones before it):
``geometries`` <- ``graphrep.ops`` <- ``graphrep.nn`` <- ``graphrep.models`` <- ``graphrep.tasks`` <- ``graphrep.cli``;
``graphrep.data`` and ``graphrep.objectives`` depend on neither ``nn`` nor ``models``.
"""

__version__ = "0.1.0"
