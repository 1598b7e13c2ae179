"""The cost matrix both decoders hand to their assignment solver.

The reference algorithm minimises ``round(tag distance) * 100 - score`` over a square
matrix, padded with constant 1e10 columns when there are more joints than groups.
Solving the unpadded rectangular matrix (every min(rows, cols) pair matched) gives the
same optima: every complete assignment of the padded one fills the same number of
padding cells. The rounded distance ties often, and where the score does not separate
the candidates either (always the case when every joint gets a group), the official
code returns whatever its solver happens to pick, which differs between solvers and
between ``munkres`` versions. A tiny term (below 3e-6 in total, far below any score
difference float32 heatmaps produce in practice) breaks those ties toward closer tags,
so every solver finds the same assignment, one of the reference's optimal ones.
Without the detection value the cost is the raw distance, which ties just as often:
with one tag dimension, |a - b| sums are equal for every assignment of joints that lie
on the same side of the groups. The same concave term separates those.

It cannot separate what float64 cannot: when two groups' mean tags lie within ~1e-7 of
each other, swapping two joints between them changes the term by ~1e-17, below the
resolution of the costs, and the alternatives are exact ties again (seen once in 9600
random cases: crowdpose, seed 16). Both decoders therefore hand the same matrix to the
same solver, scipy's ``linear_sum_assignment``, which decides such ties deterministically;
``munkres`` (the official solver) agrees with it wherever the tie-break separates the
optima (test_matching_cost_picks_an_official_optimum_and_solvers_agree).
"""
import numpy as np

ROUND_STEP = 100.0
TIE_BREAK = 1e-7


def matching_cost(dist: np.ndarray, scores: np.ndarray, use_detection_val: bool) -> np.ndarray:
    """Rectangular [joints, groups] cost; solve it with every min(rows, cols) pair matched."""
    tie_break = TIE_BREAK * (dist / (1.0 + dist))
    if not use_detection_val:
        return dist + tie_break
    return np.round(dist) * ROUND_STEP - scores[:, None] + tie_break
