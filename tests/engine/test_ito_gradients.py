"""ITO differentiates with respect to x_T only: no weight gradient is computed or accumulated, whichever
way the model was loaded (a third of the backward pass on a CPU; DESIGN.md §9)."""

from __future__ import annotations

import torch

from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls import loss_function
from ditto_live.engine.ito import ditto2_optimise, ditto_optimise
from tests.engine.controls.test_features import all_controls
from tests.engine.test_ito import make_model, noise


def _intensity_loss():
    return loss_function(all_controls()[:1])


def test_ditto2_leaves_the_students_parameters_without_gradients():
    student = make_model(w_embed=True)
    assert all(p.requires_grad for p in student.parameters())  # loaded for training: grads would be possible
    res = ditto2_optimise(student, noise(), Cond.null(1, w=2.0), _intensity_loss(), steps=3)
    assert res.steps_run == 3
    assert all(p.grad is None for p in student.parameters())


def test_ditto_baseline_leaves_the_teachers_parameters_without_gradients():
    teacher = make_model(w_embed=False)
    res = ditto_optimise(teacher, noise(), Cond.null(1, w=2.0), _intensity_loss(), steps=2, sampling_steps=2)
    assert res.steps_run == 2
    assert all(p.grad is None for p in teacher.parameters())


def test_frozen_and_trainable_models_reach_the_same_x_T():
    a, b = make_model(w_embed=True), make_model(w_embed=True).requires_grad_(False)
    ra = ditto2_optimise(a, noise(), Cond.null(1, w=2.0), _intensity_loss(), steps=4)
    rb = ditto2_optimise(b, noise(), Cond.null(1, w=2.0), _intensity_loss(), steps=4)
    torch.testing.assert_close(ra.x_T, rb.x_T)
