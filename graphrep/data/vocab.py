"""Reserved indices of the pretrain-gnns molecule feature vocabulary (Hu et al. 2020), standard library only.

The molecule featuriser (:mod:`graphrep.data.molecules.featurize`) writes features in this vocabulary and the masking
transforms (:mod:`graphrep.data.transforms.masking`) write its mask token; both take the numbers from here, so that the
generic transforms do not import a data source.

- atoms ``[N, 2]``: type in 0..119 (``atomic_num - 1`` for the 118 elements, 118 unknown, :data:`MASK_ATOM` = 119),
  chirality tag in 0..3;
- bonds ``[E, 2]``: type in 0..5 (single, double, triple, aromatic, :data:`SELF_LOOP_BOND` = 4, :data:`MASK_BOND` = 5),
  direction in 0..2.
"""

NUM_ATOM_TYPES = 120  # 118 elements + unknown + mask, as in pretrain-gnns
NUM_CHIRALITY_TAGS = 4
MASK_ATOM = 119
NUM_BOND_TYPES = 6  # 4 bond types + self-loop + mask
NUM_BOND_DIRECTIONS = 3
SELF_LOOP_BOND = 4
MASK_BOND = 5

#: The row written over a masked atom: (MASK atom type, chirality unspecified).
MOLECULE_MASK_ROW = (MASK_ATOM, 0)
