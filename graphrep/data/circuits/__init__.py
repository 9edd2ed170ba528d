"""Circuits as graphs: readers for SPEF, structural Verilog, DEF, LEF, Liberty and SPICE with one name normalisation,
and the instance-pin-net graph with SPEF capacitance labels.

>>> from graphrep.data.circuits import load_design, build_graph
>>> data, report = build_graph(load_design("gcd_sky130hd", root="../shared/data"))
>>> print("\\n".join(report.lines()))
"""

from .dataset import Design, load_design
from .def_ import read_def
from .graph import GraphReport, build_graph, homogeneous, log_scale
from .lef import read_lef
from .liberty import read_liberty
from .netlist import Netlist
from .released import load_released_pt
from .source import CircuitFormatError
from .spef import read_spef
from .spice import flatten_cells, read_spice
from .transistor import transistor_graph
from .verilog import read_verilog

__all__ = ["CircuitFormatError", "Design", "GraphReport", "Netlist", "build_graph", "flatten_cells", "homogeneous",
           "load_design", "load_released_pt", "log_scale", "read_def", "read_lef", "read_liberty", "read_spef",
           "read_spice", "read_verilog", "transistor_graph"]
