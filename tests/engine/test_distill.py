"""CM and CTM distillation (engine/distill.py): the students' maps are the right algebra, the losses draw
the right tuples and stop gradients where the paper does, and on a toy problem with an analytic teacher
a few hundred distillation steps pull the student's 1-step map toward the teacher's 20-step ODE map."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ditto_live.engine import distill as D
from ditto_live.engine.conditioning import Cond
from ditto_live.engine.schedule import alpha_sigma, teacher_grid

SHAPE = (1, 2, 4)  # toy "mel": [1, F=2, N=4], 8 dimensions


# ---------------------------------------------------------------------------------------------
# toys with the model signature forward(x [B,1,F,N], t [B], tags [B,4], w [B] | None) -> v


class GaussianTeacher(nn.Module):
    """The exact v-prediction for data x0 ~ N(mu_tag, std_tag^2 I); tag 0 (null) is the unconditional
    N(0, I). x0_hat = mu + a s^2 / (a^2 s^2 + sigma^2) (x_t - a mu), v = (a x_t - x0_hat) / sigma."""

    takes_w = False

    def __init__(self, means: torch.Tensor, stds: torch.Tensor):
        super().__init__()
        self.register_buffer("means", means)  # [V, 8]
        self.register_buffer("stds", stds)  # [V]

    def x0_hat(self, x, t, tags):
        a, s = alpha_sigma(t)
        a, s = a.view(-1, 1, 1, 1), s.view(-1, 1, 1, 1)
        mu = self.means[tags[:, 0]].view_as(x)
        sd = self.stds[tags[:, 0]].view(-1, 1, 1, 1)
        return mu + a * sd**2 / (a**2 * sd**2 + s**2) * (x - a * mu)

    def forward(self, x, t, tags, w=None):
        a, s = alpha_sigma(t)
        a, s = a.view(-1, 1, 1, 1), s.view(-1, 1, 1, 1)
        return (a * x - self.x0_hat(x, t, tags)) / s.clamp(min=1e-4)

    def sample_data(self, tags, generator):
        b = tags.shape[0]
        noise = torch.randn(b, *SHAPE, generator=generator)
        return self.means[tags[:, 0]].view(b, *SHAPE) + self.stds[tags[:, 0]].view(-1, 1, 1, 1) * noise


class ToyStudent(nn.Module):
    """The teacher's conditional v plus a small MLP residual of (x, alpha_t, sigma_t, w, tag) whose last
    layer starts at zero: like a student initialised from its teacher, it starts equal to the teacher
    at w = 1 whatever w it is given."""

    takes_w = True

    def __init__(self, teacher: GaussianTeacher, hidden: int = 128):
        super().__init__()
        self.teacher = teacher
        self.n_tags = teacher.means.shape[0]
        dim = teacher.means.shape[1]
        self.net = nn.Sequential(nn.Linear(dim + 3 + self.n_tags, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, dim))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x, t, tags, w):
        a, s = alpha_sigma(t)
        feats = torch.cat([x.flatten(1), a[:, None], s[:, None], w[:, None] / 4,
                           nn.functional.one_hot(tags[:, 0], self.n_tags).float()], 1)
        return self.teacher(x, t, tags) + self.net(feats).view_as(x)


def make_teacher(seed: int = 0, stds=(1.0, 0.6, 0.8)) -> GaussianTeacher:
    g = torch.Generator().manual_seed(seed)
    means = torch.stack([torch.zeros(8), 0.5 * torch.randn(8, generator=g), 0.5 * torch.randn(8, generator=g)])
    return GaussianTeacher(means, torch.tensor(stds))


def teacher_ode(teacher: nn.Module, x: torch.Tensor, cond: Cond, steps: int = 20) -> torch.Tensor:
    """The teacher's 20-step DDIM map with CFG, written out step by step."""
    grid = teacher_grid(steps)
    for a, b in zip(grid, grid[1:]):
        t = torch.full((x.shape[0],), float(a))
        x = D.teacher_ddim_step(teacher, x, t, torch.full_like(t, float(b)), cond)
    return x


def random_batch(b: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, *SHAPE, generator=g)
    tags = torch.randint(1, 3, (b, 4), generator=g)
    return x, tags, g


# ---------------------------------------------------------------------------------------------
# the CTM map


@pytest.mark.parametrize("t", [999, 500, 49, 0])
def test_ctm_G_is_identity_when_s_equals_t(t):
    torch.manual_seed(0)
    student = ToyStudent(make_teacher())
    nn.init.normal_(student.net[-1].weight)  # a student whose v is nothing in particular
    x, tags, _ = random_batch()
    cond = Cond(tags, torch.full((16,), 2.5))
    assert torch.equal(D.ctm_G(student, x, t, t, cond), x)
    # and the algebra itself gives x_t (not only the shortcut): alpha_t x0_hat + sigma_t eps_hat = x_t
    tt = torch.full((16,), float(t))
    x0_hat, eps_hat = D.predict_x0_eps(student, x, tt, cond)
    a, s = alpha_sigma(tt)
    torch.testing.assert_close(D.ctm_jump(x0_hat, eps_hat, a, s), x, atol=1e-5, rtol=1e-5)


def test_ctm_G_equals_the_ddim_jump_of_a_known_denoiser():
    teacher = make_teacher()
    x, tags, _ = random_batch()
    t = torch.full((16,), 700.0)
    s = torch.tensor([649.0, 299.0, 49.0, -1.0]).repeat(4)
    got = D.ctm_G(teacher, x, t, s, Cond(tags, 1.0))
    # closed form: x0 = posterior mean, eps = (x_t - a_t x0) / sigma_t, x_s = a_s x0 + sigma_s eps
    a_t, s_t = (u.view(-1, 1, 1, 1) for u in alpha_sigma(t))
    a_s, s_s = (u.view(-1, 1, 1, 1) for u in alpha_sigma(s))
    x0 = teacher.x0_hat(x, t, tags)
    want = a_s * x0 + s_s * (x - a_t * x0) / s_t
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[s == -1], x0[s == -1], atol=1e-5, rtol=1e-5)


def test_teacher_ddim_step_applies_cfg_at_each_samples_w():
    teacher = make_teacher()
    x, tags, _ = random_batch()
    w = torch.linspace(1.0, 4.0, 16)
    t, t_prev = torch.full((16,), 499.0), torch.full((16,), 449.0)
    got = D.teacher_ddim_step(teacher, x, t, t_prev, Cond(tags, w))
    null = torch.zeros_like(tags)
    v = w.view(-1, 1, 1, 1) * teacher(x, t, tags) + (1 - w.view(-1, 1, 1, 1)) * teacher(x, t, null)
    a_t, s_t = (u.view(-1, 1, 1, 1) for u in alpha_sigma(t))
    a_p, s_p = (u.view(-1, 1, 1, 1) for u in alpha_sigma(t_prev))
    x0, eps = a_t * x - s_t * v, s_t * x + a_t * v
    torch.testing.assert_close(got, a_p * x0 + s_p * eps, atol=1e-5, rtol=1e-5)
    assert not got.requires_grad


# ---------------------------------------------------------------------------------------------
# the CM map


def test_cm_boundary_scalings_make_f_the_identity_at_the_clean_level():
    c_skip, c_out = D.cm_boundary_scalings(torch.tensor([-1.0, 49.0, 999.0]))
    assert c_skip[0] == 1.0 and c_out[0] == 0.0
    assert c_skip[2] < 1e-6 and abs(float(c_out[2]) - 1) < 1e-6
    assert bool((c_skip[1:] < 1e-4).all())  # LCM's scalings leave the boundary fast
    teacher = make_teacher()
    x, tags, _ = random_batch()
    assert torch.equal(D.cm_denoise(teacher, x, -1, Cond(tags, 1.0)), x)
    # away from the boundary f is (almost) the model's x0_hat
    t = torch.full((16,), 999.0)
    torch.testing.assert_close(D.cm_denoise(teacher, x, t, Cond(tags, 1.0)), teacher.x0_hat(x, t, tags),
                               atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# the training tuple


def test_ctm_times_draw_s_on_the_grid_at_or_below_t_minus_one():
    grid = teacher_grid(20)
    t, t_prev, s = D.sample_ctm_times(4000, grid, torch.Generator().manual_seed(0))
    pos = {v: i for i, v in enumerate(grid)}
    it, ip, is_ = ([pos[int(v)] for v in u] for u in (t, t_prev, s))
    assert all(p == i + 1 for i, p in zip(it, ip))  # t-1 is the next grid level
    assert all(j >= p for j, p in zip(is_, ip))  # s at or below t-1
    assert -1 not in t.tolist() and set(t.long().tolist()) == set(grid[:-1])  # every non-clean level
    assert (s == -1).any() and (s == t_prev).any() and ((s != -1) & (s != t_prev)).any()


def test_cm_times_pair_each_level_with_the_next():
    grid = teacher_grid(20)
    t, t_prev = D.sample_cm_times(2000, grid, torch.Generator().manual_seed(0))
    assert all(grid[grid.index(int(a)) + 1] == int(b) for a, b in zip(t, t_prev))
    assert set(t.long().tolist()) == set(grid[:-1])


def test_w_is_uniform_in_its_range():
    w = D.sample_w(5000, 1.0, 4.0, torch.Generator().manual_seed(0))
    assert w.min() >= 1.0 and w.max() <= 4.0
    assert abs(float(w.mean()) - 2.5) < 0.05 and float(w.std()) > 0.8


@pytest.mark.parametrize("loss_fn", [D.cm_consistency_loss, D.ctm_local_consistency_loss])
@pytest.mark.parametrize("kind", ["l2", "huber"])
def test_losses_train_only_the_student(loss_fn, kind):
    torch.manual_seed(0)
    teacher = make_teacher()
    student = ToyStudent(teacher)
    ema = D.make_ema(student)
    nn.init.normal_(student.net[-1].weight, std=0.1)
    x0, tags, g = random_batch(32)
    loss = loss_fn(student, ema, teacher, x0, Cond(tags), D.sample_w(32, 1, 4, g), g, loss=kind)
    assert loss.dim() == 0 and loss.item() > 0
    loss.backward()
    assert student.net[-1].weight.grad is not None and student.net[-1].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in ema.parameters())


def test_unknown_loss_is_refused():
    teacher = make_teacher()
    student = ToyStudent(teacher)
    x0, tags, g = random_batch()
    with pytest.raises(ValueError, match="unknown loss"):
        D.ctm_local_consistency_loss(student, D.make_ema(student), teacher, x0, Cond(tags),
                                     torch.ones(16), g, loss="l1")


def test_ema_update_moves_by_one_minus_decay():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    before = a.weight.detach().clone()
    D.ema_update(a, b, decay=0.75)
    torch.testing.assert_close(a.weight, 0.75 * before + 0.25 * b.weight)
    D.ema_update(a, b, decay=0.0)
    torch.testing.assert_close(a.weight, b.weight)


# ---------------------------------------------------------------------------------------------
# distillation on the toy problem


def _distil(kind: str, steps: int = 300, w_range=(1.0, 2.0), seed: int = 0):
    """Distil the toy student; return (error at init, error after, teacher's own 1-step error, error of
    the distilled 2-step gamma=0 CTM map), each the mean squared distance from the teacher's 20-step CFG
    DDIM map from the same x_T."""
    torch.manual_seed(seed)
    teacher = make_teacher()
    student = ToyStudent(teacher)
    ema = D.make_ema(student)
    opt = torch.optim.Adam(student.net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed + 1)
    ge = torch.Generator().manual_seed(seed + 2)
    x_T = torch.randn(256, *SHAPE, generator=ge)
    cond = Cond(torch.randint(1, 3, (256, 4), generator=ge), D.sample_w(256, *w_range, ge))
    ref = teacher_ode(teacher, x_T, cond)

    def one_step(m):
        with torch.no_grad():
            return D.ctm_G(m, x_T, 999, -1, cond) if kind == "ctm" else D.cm_denoise(m, x_T, 999, cond)

    err0 = (one_step(student) - ref).pow(2).mean().item()
    err_teacher = (one_step(teacher) - ref).pow(2).mean().item()  # the teacher's own 1-step x0_hat with CFG
    loss_fn = D.ctm_local_consistency_loss if kind == "ctm" else D.cm_consistency_loss
    for _ in range(steps):
        tags = torch.randint(1, 3, (128, 4), generator=g)
        x0 = teacher.sample_data(tags, g)
        loss = loss_fn(student, ema, teacher, x0, Cond(tags), D.sample_w(128, *w_range, g), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        D.ema_update(ema, student, 0.95)
    err1 = (one_step(ema) - ref).pow(2).mean().item()
    with torch.no_grad():
        two = D.ctm_G(ema, D.ctm_G(ema, x_T, 999, 499, cond), 499, -1, cond)  # 2-step gamma = 0 CTM
    return err0, err1, err_teacher, (two - ref).pow(2).mean().item()


@pytest.mark.parametrize("kind", ["ctm", "cm"])
def test_distillation_pulls_the_1_step_map_toward_the_teachers_20_step_map(kind):
    err0, err1, err_teacher, err_two = _distil(kind)
    assert err1 <= err0 / 2, (err0, err1)
    assert err1 <= err_teacher / 2, (err_teacher, err1)
    if kind == "ctm":  # the trajectory student gets better with a second step along the trajectory
        assert err_two <= err1 / 2, (err1, err_two)


# ---------------------------------------------------------------------------------------------
# the trainer (engine/train/distill.py) and `ditto-live distill`


def _tiny_teacher_and_data(n: int = 8):
    from ditto_live.engine.train.dataset import MelData
    from tests.engine.conftest import NARROW, make_unet

    vocab = {f: ["<null>", "a", "b"] for f in ("genre", "mood", "tempo", "instrument")}
    teacher = make_unet(NARROW)
    meta = {"kind": "base", "model_config": NARROW.to_dict(), "mel_config": {"n_mels": 8, "frames": 16},
            "tags": vocab, "vocab_sizes": [3, 3, 3, 3], "recipe": {"preset": "tiny"}}
    g = torch.Generator().manual_seed(0)
    data = MelData((torch.rand(n, 1, 8, 16, generator=g) * 2 - 1).half(),
                   torch.randint(0, 3, (n, 4), generator=g), vocab)
    return teacher, meta, data


@pytest.mark.parametrize("kind", ["ctm", "cm"])
def test_trainer_writes_a_loadable_student_with_recipe_and_quality_check(kind, tmp_path):
    from ditto_live.engine.checkpoint import load_checkpoint
    from ditto_live.engine.train.distill import train_distill

    teacher, meta, data = _tiny_teacher_and_data()
    metrics = train_distill(kind, (teacher, meta), None, tmp_path, steps=4, batch=2, lr=1e-3, ckpt_every=2,
                            progress=False, data=data, eval_windows=2)
    assert metrics["steps"] == 4 and metrics["final_loss"] > 0
    assert {"mse_1step_student", "mse_1step_teacher", "mse_2step_student"} <= set(metrics)
    student, smeta = load_checkpoint(tmp_path / "final")
    assert smeta["kind"] == kind and student.takes_w and smeta["model_config"]["w_embed"] is True
    assert smeta["recipe"]["kind"] == kind and smeta["recipe"]["w_min"] == 1.0 and smeta["wall_time_s"] >= 0
    assert smeta["tags"] == meta["tags"]
    assert (tmp_path / "step-2").is_dir() and (tmp_path / "latest").is_dir()
    # the student moved away from its initial copy of the teacher
    init = D.init_student_from_teacher(teacher)
    assert any(not torch.equal(a, b) for a, b in zip(init.state_dict().values(), student.state_dict().values()))


def test_trainer_resumes_exactly(tmp_path):
    from ditto_live.engine.checkpoint import load_checkpoint
    from ditto_live.engine.train.distill import train_distill

    teacher, meta, data = _tiny_teacher_and_data()
    kw = dict(steps=4, batch=2, lr=1e-3, ckpt_every=0, progress=False, data=data, eval_windows=0, seed=3)
    train_distill("ctm", (teacher, meta), None, tmp_path / "a", **kw)
    train_distill("ctm", (teacher, meta), None, tmp_path / "b", stop_at=2, **kw)
    assert not (tmp_path / "b" / "final").exists()
    train_distill("ctm", (teacher, meta), None, tmp_path / "b", resume=True, **kw)
    a, _ = load_checkpoint(tmp_path / "a" / "final")
    b, _ = load_checkpoint(tmp_path / "b" / "final")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


def test_distill_command_refuses_a_missing_teacher(tmp_path, capsys):
    from ditto_live.cli import main

    code = main(["distill", "ctm", "--teacher", str(tmp_path / "nope"), "--data", str(tmp_path),
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "--teacher: no checkpoint folder" in capsys.readouterr().err
