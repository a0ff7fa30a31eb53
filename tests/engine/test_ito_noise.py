"""DITTO-2's M = T case optimises exactly what it decodes: the M-step surrogate's sampling noise is recorded
(``ItoResult.noise_seed``) and ``ditto2_decode(noise_seed=...)`` reuses it, for CTM gamma-sampling with
gamma > 0 and CM multistep sampling, for one seed and for the best row of a batch."""

from __future__ import annotations

import pytest
import torch

from ditto_live.engine import student_sampling as ss
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls import loss_function
from ditto_live.engine.ito import ditto2_decode, ditto2_optimise, draw_noise_seed
from tests.engine.controls.test_features import all_controls
from tests.engine.test_ito import make_model, noise

GAMMA = 0.3


class Recording:
    """The intensity loss, keeping every evaluation's x0 [B, 1, F, N] and total [B] (the surrogate's outputs)."""

    def __init__(self):
        self.loss_fn = loss_function(all_controls()[:1])
        self.x0: list[torch.Tensor] = []
        self.total: list[torch.Tensor] = []

    def __call__(self, x0: torch.Tensor):
        total, parts = self.loss_fn(x0)
        self.x0.append(x0.detach().clone())
        self.total.append(total.detach().clone())
        return total, parts

    def best_x0(self, row: int) -> torch.Tensor:
        """The surrogate's x0 at the row's best x_T (the first evaluation with its lowest loss). -> [1, 1, F, N]"""
        totals = [float(t[row]) for t in self.total]
        i = totals.index(min(totals))
        return self.x0[i][row:row + 1]


def _optimise(kind: str, m: int, b: int = 1, steps: int = 4):
    student, rec = make_model(True), Recording()
    cond = Cond.null(b, w=3.0)
    res = ditto2_optimise(student, noise(b), cond, rec, steps, lr=0.05, surrogate=m, student_kind=kind,
                          gamma=GAMMA, generator=torch.Generator().manual_seed(11))
    return student, rec, res


@pytest.mark.parametrize(("kind", "m"), [("ctm", 2), ("ctm", 4), ("cm", 2)])
def test_decoding_with_t_equal_m_reproduces_the_surrogates_output_at_the_optimum(kind, m):
    student, rec, res = _optimise(kind, m)
    x0 = ditto2_decode(student, res.x_T, Cond.null(1, w=3.0), m, GAMMA, kind, noise_seed=res.noise_seed)
    torch.testing.assert_close(x0, rec.best_x0(res.best_index), atol=1e-6, rtol=0)
    # and the decode's loss is the loss the optimisation reported
    assert float(rec.loss_fn(x0)[0]) == pytest.approx(res.loss, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("kind", ["ctm", "cm"])
def test_other_noise_decodes_something_else(kind):
    """The check above can fail: with noise the optimisation did not see (the old decode's own generator),
    the T = M output moves far from the surrogate's."""
    student, rec, res = _optimise(kind, 2)
    cond = Cond.null(1, w=3.0)
    target = rec.best_x0(res.best_index)
    other = ditto2_decode(student, res.x_T, cond, 2, GAMMA, kind, torch.Generator().manual_seed(500))
    assert (other - target).abs().mean() > 100 * (ditto2_decode(student, res.x_T, cond, 2, GAMMA, kind,
                                                                noise_seed=res.noise_seed) - target).abs().mean() + 1e-3


def test_the_best_row_of_a_batch_decodes_to_its_own_surrogate_output():
    student, rec, res = _optimise("ctm", 2, b=3, steps=5)
    row = res.best_index
    x0 = ditto2_decode(student, res.x_T, Cond.null(1, w=3.0), 2, GAMMA, "ctm", noise_seed=res.noise_seed)
    torch.testing.assert_close(x0, rec.best_x0(row), atol=1e-5, rtol=1e-5)
    # every row: decoding the whole batch from the base seed gives each row's surrogate output
    base = res.noise_seed - row
    batch = ditto2_decode(student, res.x_T_batch, Cond.null(3, w=3.0), 2, GAMMA, "ctm", noise_seed=base)
    for r in range(3):
        torch.testing.assert_close(batch[r:r + 1], rec.best_x0(r), atol=1e-5, rtol=1e-5)


def test_a_rows_noise_does_not_depend_on_the_batch_it_is_sampled_in():
    student, x, cond = make_model(True), noise(3, seed=4), Cond.null(3, w=3.0)
    grid = ss.student_grid(3)
    whole = ss.ctm_gamma_sample(student, x, grid, cond, generator=ss.row_generators(7, 3), gamma=GAMMA)
    one = ss.ctm_gamma_sample(student, x[2:3], grid, Cond.null(1, w=3.0), generator=ss.row_generators(9, 1),
                              gamma=GAMMA)
    torch.testing.assert_close(whole[2:3], one, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="row generators"):
        ss.cm_multistep_sample(student, x, grid, cond, generator=ss.row_generators(7, 2))


def test_the_noise_seed_is_drawn_from_the_job_generator_or_given():
    student, loss_fn = make_model(True), loss_function(all_controls()[:1])
    kw = dict(steps=3, lr=0.05, surrogate=2, gamma=GAMMA)
    drawn = ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_fn, generator=torch.Generator().manual_seed(3),
                            **kw)
    seed = draw_noise_seed(torch.Generator().manual_seed(3))
    given = ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_fn, noise_seed=seed, **kw)
    assert drawn.noise_seed == given.noise_seed == seed
    assert torch.equal(drawn.x_T, given.x_T)
    other = ditto2_optimise(student, noise(), Cond.null(1, w=3.0), loss_fn, noise_seed=seed + 1, **kw)
    assert not torch.equal(other.x_T, given.x_T)  # the seed is what the M = 2 objective depends on


def test_decode_takes_a_noise_seed_or_a_generator_not_both():
    student = make_model(True)
    with pytest.raises(ValueError, match="not both"):
        ditto2_decode(student, noise(), Cond.null(1, w=3.0), 2, generator=torch.Generator(), noise_seed=1)


def test_generate_with_t_equal_m_returns_the_surrogates_output():
    student, rec = make_model(True), Recording()
    res = ditto2_optimise(student, noise(2), Cond.null(2, w=3.0), rec, 4, lr=0.05, surrogate=2, gamma=GAMMA,
                          generator=torch.Generator().manual_seed(1))
    x0 = ditto2_decode(student, res.x_T, Cond.null(1, w=3.0), 2, GAMMA, noise_seed=res.noise_seed)
    torch.testing.assert_close(x0, rec.best_x0(res.best_index), atol=1e-5, rtol=1e-5)
