"""The CLI lists every subcommand, each answers --help, and bad options fail clearly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ditto_live.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("serve", "demo", "generate", "bench", "eval", "data", "train", "distill", "models"):
        assert name in out
    assert set(SUBCOMMANDS) >= {"serve", "demo", "generate", "bench", "eval", "data", "train", "distill", "models"}


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert name in capsys.readouterr().out


def test_unknown_option_fails_with_a_clear_message(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["models", "--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_wrong_config_key_is_named_on_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "ditto_live", "models", "--set", "server.prot=1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "server.prot" in proc.stderr
