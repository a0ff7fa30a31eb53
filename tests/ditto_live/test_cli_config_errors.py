"""Finding 5 of issue 16: bad CLI invocations and bad [server] values end with one clear error line and
exit code 2 -- never a traceback, and never a server that starts with a value it cannot use."""

from __future__ import annotations

import socket

import pytest

from ditto_live.cli import main
from ditto_live.config import ConfigError, ServerConfig, load_config


def run_serve(tmp_path, *extra: str) -> int:
    return main(["serve", "--fake-runner", "--output-dir", str(tmp_path / "out"), *extra])


def error_lines(capsys) -> list[str]:
    """The ERROR lines on stderr (the CLI routes its log there); a traceback fails the test."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if " ERROR " in line]


@pytest.fixture
def toml(tmp_path):
    def write(name: str, content: bytes) -> str:
        path = tmp_path / name
        path.write_bytes(content)
        return str(path)

    return write


@pytest.mark.parametrize(("config", "says"), [
    ("missing", "cannot read"),
    ("folder", "is a folder"),
    ("latin1", "is not UTF-8 text"),
    ("scalar_section", "must be a table"),
])
def test_an_unusable_settings_file_is_one_error_line_and_exit_2(config, says, tmp_path, toml, capsys):
    path = {"missing": str(tmp_path / "nope.toml"), "folder": str(tmp_path),
            "latin1": toml("l.toml", b"[server]\nhost = \"caf\xe9\"\n"),
            "scalar_section": toml("s.toml", b"server = 5\n")}[config]
    assert main(["models", "--config", path]) == 2
    assert any(says in line for line in error_lines(capsys)), error_lines(capsys)


@pytest.mark.parametrize(("key", "value"), [
    ("max_payload_bytes", -1), ("max_chunks", 0), ("progress_interval_s", -1.0), ("host", ""), ("port", 70000),
    ("max_clip_seconds", 0.0), ("status_per_s", 0.0), ("chunk_timeout_s", -1.0),
])
def test_a_server_value_out_of_range_is_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=f"server.{key}"):
        ServerConfig(**{key: value})
    with pytest.raises(ConfigError, match=f"server.{key}"):
        load_config(None, [f"server.{key}={value!r}".replace("'", '"')])


def test_serve_on_a_port_in_use_is_one_error_line(tmp_path, capsys):
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        assert run_serve(tmp_path, "--port", str(taken.getsockname()[1])) == 2
    finally:
        taken.close()
    assert any("cannot listen on 127.0.0.1" in line and "in use" in line for line in error_lines(capsys))


def test_serve_on_an_address_this_machine_does_not_have_is_one_error_line(tmp_path, capsys):
    # 192.0.2.1 is TEST-NET-1: binding it fails locally, nothing is sent anywhere
    assert run_serve(tmp_path, "--host", "192.0.2.1", "--allow", "192.0.2.0/24", "--port", "0") == 2
    assert any("cannot listen on 192.0.2.1" in line for line in error_lines(capsys))


def test_serve_on_a_host_name_that_does_not_resolve_is_one_error_line(tmp_path, capsys, monkeypatch):
    import ditto_live.server.server as server_module

    def unresolvable(host: str, port: int) -> None:  # what the resolver raises, without asking a DNS server
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(server_module, "UdpEndpoint", unresolvable)
    assert run_serve(tmp_path, "--host", "no-such-host.invalid", "--allow", "127.0.0.1") == 2
    assert any("cannot listen on no-such-host.invalid" in line and "not known" in line for line in error_lines(capsys))


def test_serve_flags_out_of_range_name_the_flag(tmp_path, capsys):
    assert run_serve(tmp_path, "--queue-size", "0") == 2
    assert any("server.queue_size" in line and "--queue-size" in line for line in error_lines(capsys))
