"""Cargo end to end with the machine's cargo: `cargo login` with a vigil API token, publish a crate and a second
one that depends on it from the same registry, `cargo add` and build an app that uses the second (the first comes
with it), search, yank and undo, list owners, and refuse a republish; the audit events are read back."""

import os
import subprocess

from conftest import ADMIN_USER
from test_audit import AuditLog


def cargo(env, cwd, *args, check=True):
    proc = subprocess.run(["cargo", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, f"cargo {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def crate(path, manifest, lib):
    (path / "src").mkdir(parents=True)
    (path / "Cargo.toml").write_text(manifest)
    (path / "src" / "lib.rs").write_text(lib)


def test_cargo_publish_depend_yank(vigil, tmp_path):
    log = AuditLog(vigil)
    vigil.cli("repo", "create", "e2e/rs", "--format", "cargo")
    token = vigil.cli("token", "create", "--user", ADMIN_USER, "--scope", "e2e/rs:pull,push,delete").stdout.strip()
    home = tmp_path / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[registries.vigil]\nindex = "sparse+{vigil.url}/cargo/e2e/rs/index/"\n'
        '[registry]\nglobal-credential-providers = ["cargo:token"]\n')
    env = {**os.environ, "CARGO_HOME": str(home), "CARGO_TARGET_DIR": str(tmp_path / "target"),
           "CARGO_TERM_COLOR": "never"}
    env.pop("CARGO_REGISTRIES_VIGIL_TOKEN", None)
    proc = subprocess.run(["cargo", "login", "--registry", "vigil"], input=token + "\n", env=env, cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

    first, second, app = tmp_path / "first", tmp_path / "second", tmp_path / "app"
    crate(first, '[package]\nname = "e2e-first"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\n'
          'description = "the first crate"\npublish = ["vigil"]\n',
          'pub fn greeting() -> &\'static str { "hello from vigil" }\n')
    crate(second, '[package]\nname = "e2e_second"\nversion = "0.2.0"\nedition = "2021"\nlicense = "MIT"\n'
          'description = "the second crate"\npublish = ["vigil"]\n\n'
          '[dependencies]\nfirst = { package = "e2e-first", version = "0.1", registry = "vigil" }\n',
          "pub fn greet() -> String { first::greeting().to_uppercase() }\n")
    mark = log.mark()
    cargo(env, first, "publish", "--registry", "vigil", "--allow-dirty")
    cargo(env, second, "publish", "--registry", "vigil", "--allow-dirty")
    pushes = [e for e in log.events() if e["seq"] > mark and e["kind"] == "push_repo" and e["registry"] == "cargo"]
    assert [(e["artifact"], e["outcome"], e["user"]["name"], e["registry"]) for e in pushes] == \
        [("e2e-first@0.1.0", "success", ADMIN_USER, "cargo"), ("e2e-second@0.2.0", "success", ADMIN_USER, "cargo")]
    assert all(e["detail"].startswith("sha256:") for e in pushes), pushes

    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text('[package]\nname = "app"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n')
    (app / "src" / "main.rs").write_text('fn main() { println!("{}", e2e_second::greet()); }\n')
    cargo(env, app, "add", "--registry", "vigil", "e2e_second")
    cargo(env, app, "fetch")
    assert cargo(env, app, "run", "-q").stdout.strip() == "HELLO FROM VIGIL"
    pulls = {e["artifact"] for e in log.events() if e["seq"] > mark and e["kind"] == "pull_repo" and e["registry"] == "cargo"}
    assert pulls == {"e2e-first@0.1.0", "e2e-second@0.2.0"}, pulls

    found = cargo(env, app, "search", "--registry", "vigil", "e2e").stdout
    assert 'e2e-first = "0.1.0"' in found and "the second crate" in found, found
    assert ADMIN_USER in cargo(env, first, "owner", "--list", "--registry", "vigil").stdout

    cargo(env, first, "yank", "--registry", "vigil", "--version", "0.1.0")
    cargo(env, first, "yank", "--undo", "--registry", "vigil", "--version", "0.1.0")
    kinds = [e["kind"] for e in log.events()
             if e["seq"] > mark and e["kind"].endswith("yank_version") and e["registry"] == "cargo"]
    assert kinds == ["yank_version", "unyank_version"], kinds

    again = cargo(env, first, "publish", "--registry", "vigil", "--allow-dirty", "--no-verify", check=False)
    assert again.returncode != 0 and "already" in again.stderr, again.stderr

    # Without the token, the private registry refuses even its config.
    anonymous = {**env, "CARGO_HOME": str(tmp_path / "anon-home")}
    (tmp_path / "anon-home").mkdir()
    (tmp_path / "anon-home" / "config.toml").write_text((home / "config.toml").read_text())
    denied = cargo(anonymous, app, "search", "--registry", "vigil", "e2e", check=False)
    assert denied.returncode != 0, denied
