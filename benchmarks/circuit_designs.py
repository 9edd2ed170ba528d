"""The real circuit designs of ``../shared/data/circuits`` (registered dataset cards under ``datasets/``), their process
design kit (PDK) and whether a cell library (Liberty or standard-cell LEF) describes their cells: the one list the
circuit benchmarks share, and where they read them from by default."""

import os
from pathlib import Path

#: the data root a circuit benchmark reads by default: ``GRAPHREP_DATA``, else ``shared/data`` beside the checkout
DATA_ROOT = os.environ.get("GRAPHREP_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

#: design -> PDK family; sky130hd and sky130hs are two cell libraries of one PDK (SkyWater 130).
PDK = {
    "gcd_sky130hd": "sky130", "video_sky130hd": "sky130", "flash_sky130hd": "sky130", "pdp8_sky130hd": "sky130",
    "experiar_wrapper_sky130hd": "sky130", "tt03_wrapper_sky130hd": "sky130", "gcd_sky130hs": "sky130",
    "i2c_sg13g2": "sg13g2", "silice_sg13g2": "sg13g2", "ay8913_sg13g2": "sg13g2",
    "gcd_nangate45": "nangate45",
    "user_proj_gf180": "gf180", "timers_gf180": "gf180", "serial_ports_gf180": "gf180",
    "mockarray_asap7": "asap7", "credit_pi_switch_asap7": "asap7",
}
DESIGNS = list(PDK)
#: Macro-level tops: their cells are hard macros (no standard-cell library), their nets long inter-macro wires.
MACRO_TOPS = ["experiar_wrapper_sky130hd", "tt03_wrapper_sky130hd"]
#: Designs whose cells a standard-cell library (Liberty or LEF) describes: the goal's "designs with cell libraries".
LIBRARY_DESIGNS = [d for d in DESIGNS if d not in MACRO_TOPS]
