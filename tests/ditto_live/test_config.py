"""Config: frozen dataclasses from TOML and --set overrides; bad keys and types name the key."""

from __future__ import annotations

import dataclasses

import pytest

from ditto_live.config import Config, ConfigError, load_config


def test_defaults_load_and_are_frozen():
    cfg = load_config()
    assert cfg.server.host == "127.0.0.1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.server.port = 1  # type: ignore[misc]


def test_toml_and_overrides_apply_in_order(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 9200\nallow = ["127.0.0.1", "10.0.0.2"]\n[generate]\ncfg = 4\n')
    cfg = load_config(path, ["server.port=9300", "generate.method=ditto"])
    assert cfg.server.port == 9300
    assert cfg.server.allow == ("127.0.0.1", "10.0.0.2")
    assert cfg.generate.cfg == 4.0 and isinstance(cfg.generate.cfg, float)
    assert cfg.generate.method == "ditto"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["server.prot=1"], "server.prot"),
        (["sever.port=1"], "sever"),
        (["server.port=abc"], "server.port"),
        (["server.port=true"], "server.port"),
        (["generate.steps=1.5"], "generate.steps"),
        (["server.allow=1"], "server.allow"),
    ],
)
def test_bad_keys_and_types_name_the_key(overrides, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(None, overrides)


def test_unknown_key_in_toml_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[midi]\nintensity_kc = 7\n")
    with pytest.raises(ConfigError, match=r"midi\.intensity_kc"):
        load_config(path)


def test_every_field_has_a_comment():
    import inspect

    import ditto_live.config as mod

    src = inspect.getsource(mod)
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(section.type if isinstance(section.type, type) else getattr(mod, section.type)):
            line = next(ln for ln in src.splitlines() if ln.strip().startswith(f"{f.name}:"))
            assert "#" in line, f"{section.name}.{f.name} has no comment"


def test_stream_and_thread_settings_load_from_toml_and_are_type_checked(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[server]\nthreads = 2\n[audio]\nstream_budget = 0.5\nstream_overlap = 2\n")
    cfg = load_config(path)
    assert (cfg.server.threads, cfg.audio.stream_budget, cfg.audio.stream_overlap) == (2, 0.5, 2.0)
    assert load_config().audio.stream_budget == 0.7 and load_config().server.threads == 0  # the defaults
    with pytest.raises(ConfigError, match=r"audio\.stream_budget"):
        load_config(None, ["audio.stream_budget=fast"])
    with pytest.raises(ConfigError, match=r"server\.threads"):
        load_config(None, ["server.threads=1.5"])


def test_docs_config_lists_every_key_under_its_section():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "config.md").read_text()
    sections = text.split("\n## ")
    for section in dataclasses.fields(Config):
        body = next((s for s in sections if s.startswith(f"`[{section.name}]`")), None)
        assert body is not None, f"docs/config.md has no [{section.name}] section"
        for f in dataclasses.fields(getattr(Config(), section.name)):
            assert f"| `{f.name}` |" in body, f"docs/config.md does not describe {section.name}.{f.name}"
