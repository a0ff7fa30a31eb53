"""Tiny ABC scores written on the fly, so data tests do not depend on which corpus files exist."""

import pytest

C_MAJOR_SCALE = """X:1
T:C major scale
M:4/4
L:1/4
K:C
C D E F | G A B c |]
"""

TUNE_B = """X:1
T:Tune B
M:3/4
L:1/8
K:G
G2 B2 d2 | g4 d2 | e2 c2 A2 | G6 |]
"""

TUNE_C = """X:1
T:Tune C
M:6/8
L:1/8
K:Dm
DEF GFE | D3 A3 | dcA GEC | D6 |]
"""


@pytest.fixture(scope="module")
def abc_dir(tmp_path_factory):
    """Folder with three short, valid ABC tunes and one corrupt score."""
    d = tmp_path_factory.mktemp("scores")
    (d / "scale.abc").write_text(C_MAJOR_SCALE)
    (d / "tune_b.abc").write_text(TUNE_B)
    (d / "tune_c.abc").write_text(TUNE_C)
    (d / "broken.krn").write_text("**kern\n*M4/4\n=1\n4q#q\n%%%garbage\n*-\n*-\n")
    return d
