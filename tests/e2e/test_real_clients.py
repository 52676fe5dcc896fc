"""End-to-end tests: real third-party OCI clients against a running vigil.

Clients: umoci (builds an OCI layout), skopeo, podman, buildah (containers/image, Go), oras-py and python-dxf
(Python, requests), and the docker CLI (client only, no engine). Every client talks to the session's vigil on
127.0.0.1 only; see conftest.py.

vigil requires authentication on /v2 (Docker token auth). Sections 1-5 act as the first-start admin; section 6
logs in as ordinary users (password, API tokens, robots) and checks what they may not do.
"""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import ADMIN_AUTH, ADMIN_PASSWORD, ADMIN_USER, HTTP, basic_auth, require_tool

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT_ALL = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST,
                        "application/vnd.docker.distribution.manifest.list.v2+json"])
CMD_TIMEOUT = 120
ADMIN_CREDS = f"{ADMIN_USER}:{ADMIN_PASSWORD}"


# ---------------------------------------------------------------------------------------------------------------
# helpers


def attempt(cmd, env=None, cwd=None, input=None, timeout=CMD_TIMEOUT) -> subprocess.CompletedProcess:
    """Runs a command (stdin from `input`, else /dev/null) and returns the finished process, whatever its status."""
    kwargs = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def describe(cmd, proc) -> str:
    return (f"{' '.join(map(str, cmd))} exited with {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")


def run(cmd, env=None, cwd=None, input=None, timeout=CMD_TIMEOUT) -> str:
    """Runs a command and returns its stdout; fails the test with both streams if it exits non-zero."""
    proc = attempt(cmd, env=env, cwd=cwd, input=input, timeout=timeout)
    assert proc.returncode == 0, "command failed: " + describe(cmd, proc)
    return proc.stdout


def run_fails(cmd, env=None, input=None) -> str:
    """Runs a command that must fail; returns its stderr (lower-cased) for checks on the reason."""
    proc = attempt(cmd, env=env, input=input)
    assert proc.returncode != 0, "command unexpectedly succeeded: " + describe(cmd, proc)
    return (proc.stderr + proc.stdout).lower()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def http(method: str, url: str, headers=None, data=None, auth=ADMIN_AUTH):
    """Plain HTTP request; returns (status, headers, body) for any status, never raises on 4xx/5xx.

    `auth` is the Authorization header value (the admin's Basic credentials unless told otherwise; None for an
    anonymous request)."""
    headers = dict(headers or {})
    if auth is not None:
        headers["Authorization"] = auth
    req = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        with HTTP.open(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def layout_manifest(layout: Path, ref: str) -> tuple[str, bytes]:
    """Digest and raw bytes of the manifest tagged `ref` in an OCI image layout."""
    index = json.loads((layout / "index.json").read_text())
    for m in index["manifests"]:
        if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref:
            algo, hexd = m["digest"].split(":", 1)
            return m["digest"], (layout / "blobs" / algo / hexd).read_bytes()
    raise AssertionError(f"no manifest named {ref!r} in {layout}/index.json: {index}")


def creds_flag(creds, flag="--creds") -> list:
    """skopeo's --creds USER:PASSWORD (or --src-creds/--dest-creds); nothing for an anonymous request."""
    return [flag, creds] if creds else []


def skopeo(*args, env) -> str:
    return run(["skopeo", *args], env=env)


def inspect(ref: str, env, creds=ADMIN_CREDS) -> dict:
    return json.loads(skopeo("inspect", "--tls-verify=false", *creds_flag(creds), f"docker://{ref}", env=env))


def inspect_raw(ref: str, env, creds=ADMIN_CREDS) -> bytes:
    cmd = ["skopeo", "inspect", "--raw", "--tls-verify=false", *creds_flag(creds), f"docker://{ref}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def list_tags(repo_ref: str, env, creds=ADMIN_CREDS) -> list:
    out = skopeo("list-tags", "--tls-verify=false", *creds_flag(creds), f"docker://{repo_ref}", env=env)
    return json.loads(out)["Tags"]


def tags_via_http(vigil, repo: str):
    """The repository's tags as the admin sees them over HTTP; None if the repository does not exist (404)."""
    status, _, body = http("GET", f"{vigil.url}/v2/{repo}/tags/list")
    if status == 404:
        assert json.loads(body)["errors"][0]["code"] == "NAME_UNKNOWN", body
        return None
    assert status == 200, (status, body)
    return json.loads(body)["tags"] or []


# ---------------------------------------------------------------------------------------------------------------
# 1. umoci + skopeo


@pytest.fixture(scope="module")
def umoci_image(vigil, containers_env, tmp_path_factory):
    """An image built by umoci in an OCI layout and copied by skopeo to <vigil>/e2e/umoci:v1."""
    require_tool("umoci")
    require_tool("skopeo")
    base = tmp_path_factory.mktemp("umoci")
    layout, bundle = base / "layout", base / "bundle"
    env = containers_env
    run(["umoci", "init", "--layout", layout], env=env)
    run(["umoci", "new", "--image", f"{layout}:v1"], env=env)
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:v1", bundle], env=env)
    (bundle / "rootfs" / "hi").write_text("hi\n")
    run(["umoci", "repack", "--image", f"{layout}:v1", bundle], env=env)
    digest, manifest = layout_manifest(layout, "v1")
    assert sha256(manifest) == digest

    ref = f"{vigil.host}/e2e/umoci:v1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", ADMIN_CREDS, f"oci:{layout}:v1", f"docker://{ref}",
           env=env)
    return {"ref": ref, "digest": digest, "manifest": manifest, "layout": layout,
            "config_digest": json.loads(manifest)["config"]["digest"]}


def test_umoci_layout_roundtrip_with_skopeo(vigil, containers_env, umoci_image, tmp_path):
    env = containers_env
    ref, digest = umoci_image["ref"], umoci_image["digest"]

    # skopeo sees exactly the manifest umoci wrote, byte for byte.
    info = inspect(ref, env)
    assert info["Digest"] == digest
    assert "v1" in info["RepoTags"]
    assert inspect_raw(ref, env) == umoci_image["manifest"]

    # The registry's own answer agrees (HEAD by tag, then GET by digest).
    status, headers, _ = http("HEAD", f"{vigil.url}/v2/e2e/umoci/manifests/v1", {"Accept": ACCEPT_ALL})
    assert status == 200
    assert headers["Docker-Content-Digest"] == digest
    assert headers["Content-Type"] == OCI_MANIFEST
    status, _, body = http("GET", f"{vigil.url}/v2/e2e/umoci/manifests/{digest}", {"Accept": ACCEPT_ALL})
    assert status == 200 and sha256(body) == digest

    assert list_tags(f"{vigil.host}/e2e/umoci", env) == ["v1"]

    # Copy it back into a fresh OCI layout: same manifest digest, same blobs.
    back = tmp_path / "back"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", ADMIN_CREDS, f"docker://{ref}", f"oci:{back}:v1",
           env=env)
    back_digest, back_manifest = layout_manifest(back, "v1")
    assert back_digest == digest
    assert back_manifest == umoci_image["manifest"]
    for layer in json.loads(back_manifest)["layers"]:
        algo, hexd = layer["digest"].split(":", 1)
        src = (umoci_image["layout"] / "blobs" / algo / hexd).read_bytes()
        assert (back / "blobs" / algo / hexd).read_bytes() == src

    # Registry-to-registry copy into another repository (skopeo tries a cross-repository blob mount).
    mounted = f"{vigil.host}/e2e/umoci-mounted:v1"
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", ADMIN_CREDS,
           "--dest-creds", ADMIN_CREDS, f"docker://{ref}", f"docker://{mounted}", env=env)
    assert inspect(mounted, env)["Digest"] == digest


def test_skopeo_docker_schema2_push_pull_delete(vigil, containers_env, umoci_image, tmp_path):
    env = containers_env
    ref = f"{vigil.host}/e2e/umoci:v1-docker"
    skopeo("copy", "--format", "v2s2", "--dest-tls-verify=false", "--dest-creds", ADMIN_CREDS,
           f"oci:{umoci_image['layout']}:v1", f"docker://{ref}", env=env)

    raw = inspect_raw(ref, env)
    manifest = json.loads(raw)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    docker_digest = sha256(raw)
    assert docker_digest != umoci_image["digest"]
    assert inspect(ref, env)["Digest"] == docker_digest
    status, headers, _ = http("HEAD", f"{vigil.url}/v2/e2e/umoci/manifests/v1-docker", {"Accept": ACCEPT_ALL})
    assert status == 200
    assert headers["Content-Type"] == DOCKER_MANIFEST
    assert headers["Docker-Content-Digest"] == docker_digest
    assert sorted(list_tags(f"{vigil.host}/e2e/umoci", env)) == ["v1", "v1-docker"]

    # Pull it back unconverted (dir: keeps the manifest as served): same bytes, same digest.
    out = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", ADMIN_CREDS, f"docker://{ref}", f"dir:{out}", env=env)
    assert (out / "manifest.json").read_bytes() == raw

    # Delete it (skopeo resolves the tag and deletes the manifest by digest).
    skopeo("delete", "--tls-verify=false", "--creds", ADMIN_CREDS, f"docker://{ref}", env=env)
    for reference in ("v1-docker", docker_digest):
        status, _, body = http("GET", f"{vigil.url}/v2/e2e/umoci/manifests/{reference}", {"Accept": ACCEPT_ALL})
        assert status == 404, f"GET manifests/{reference} after delete: {status} {body!r}"
        assert json.loads(body)["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert list_tags(f"{vigil.host}/e2e/umoci", env) == ["v1"]
    # The OCI manifest under v1 is untouched.
    assert inspect(umoci_image["ref"], env)["Digest"] == umoci_image["digest"]


# ---------------------------------------------------------------------------------------------------------------
# 2. podman


@pytest.fixture
def short_tmp():
    """A temporary directory with a short path (podman refuses a --runroot longer than 50 characters)."""
    path = Path(tempfile.mkdtemp(prefix="vigil-e2e-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def podman_cmd(tmp_path: Path, short_tmp: Path) -> list:
    return ["podman", "--root", tmp_path / "root", "--runroot", short_tmp, "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs", "--events-backend", "file"]


def own_authfile(containers_env: dict, tmp_path: Path) -> dict:
    """containers_env with an auth file of this test's own, for `podman login` / `skopeo login` to write to."""
    authfile = tmp_path / "auth.json"
    authfile.write_text('{"auths": {}}\n')
    return {**containers_env, "REGISTRY_AUTH_FILE": str(authfile)}


def test_podman_pull_tag_push(vigil, containers_env, umoci_image, tmp_path, short_tmp):
    require_tool("podman")
    env = own_authfile(containers_env, tmp_path)
    podman = podman_cmd(tmp_path, short_tmp)
    run([*podman, "login", "--tls-verify=false", "-u", ADMIN_USER, "--password-stdin", vigil.host], env=env,
        input=ADMIN_PASSWORD + "\n")

    run([*podman, "pull", "--tls-verify=false", umoci_image["ref"]], env=env)
    pulled = json.loads(run([*podman, "image", "inspect", umoci_image["ref"]], env=env))[0]
    assert pulled["Digest"] == umoci_image["digest"]
    assert pulled["Id"] == umoci_image["config_digest"].split(":", 1)[1]

    target = f"{vigil.host}/e2e/podman:copied"
    run([*podman, "tag", umoci_image["ref"], target], env=env)
    digestfile = tmp_path / "digest"
    run([*podman, "push", "--tls-verify=false", "--digestfile", digestfile, target], env=env)
    pushed_digest = digestfile.read_text().strip()

    info = inspect(target, env)
    assert info["Digest"] == pushed_digest
    assert info["RepoTags"] == ["copied"]
    raw = inspect_raw(target, env)
    assert sha256(raw) == pushed_digest
    # podman recompresses layers, so the manifest may differ, but the image (its config) is the same one.
    assert json.loads(raw)["config"]["digest"] == umoci_image["config_digest"]

    # And podman can pull back what it pushed, by digest.
    by_digest = f"{vigil.host}/e2e/podman@{pushed_digest}"
    run([*podman, "rmi", "--all", "--force"], env=env)
    run([*podman, "pull", "--tls-verify=false", by_digest], env=env)
    again = json.loads(run([*podman, "image", "inspect", by_digest], env=env))[0]
    assert again["Id"] == pulled["Id"]


def test_podman_manifest_list_push(vigil, containers_env, umoci_image, tmp_path, short_tmp):
    """An image index, assembled and pushed by `podman manifest` (the child is copied along with --all)."""
    require_tool("podman")
    env = own_authfile(containers_env, tmp_path)
    podman = podman_cmd(tmp_path, short_tmp)
    run([*podman, "login", "--tls-verify=false", "-u", ADMIN_USER, "--password-stdin", vigil.host], env=env,
        input=ADMIN_PASSWORD + "\n")
    index_ref = f"{vigil.host}/e2e/podman-list:v1"
    run([*podman, "manifest", "create", index_ref], env=env)
    run([*podman, "manifest", "add", "--tls-verify=false", "--arch", "arm64", index_ref,
         f"docker://{umoci_image['ref']}"], env=env)
    digestfile = tmp_path / "digest"
    run([*podman, "manifest", "push", "--tls-verify=false", "--all", "--digestfile", digestfile, index_ref,
         f"docker://{index_ref}"], env=env)
    index_digest = digestfile.read_text().strip()

    raw = inspect_raw(index_ref, env)
    assert sha256(raw) == index_digest
    index = json.loads(raw)
    assert index["mediaType"] == OCI_INDEX
    assert [(m["digest"], m["platform"]["architecture"]) for m in index["manifests"]] == [
        (umoci_image["digest"], "arm64")]
    status, headers, _ = http("HEAD", f"{vigil.url}/v2/e2e/podman-list/manifests/v1", {"Accept": ACCEPT_ALL})
    assert status == 200
    assert headers["Content-Type"] == OCI_INDEX and headers["Docker-Content-Digest"] == index_digest
    status, _, child = http("GET", f"{vigil.url}/v2/e2e/podman-list/manifests/{umoci_image['digest']}",
                            {"Accept": ACCEPT_ALL})
    assert status == 200 and child == umoci_image["manifest"]


# ---------------------------------------------------------------------------------------------------------------
# 3. buildah


def test_buildah_scratch_commit_push(vigil, containers_env, tmp_path, short_tmp):
    require_tool("buildah")
    require_tool("skopeo")
    env = containers_env
    buildah = ["buildah", "--root", tmp_path / "root", "--runroot", short_tmp, "--storage-driver", "vfs"]
    payload = b"hello from buildah\n"
    (tmp_path / "greeting.txt").write_bytes(payload)

    container = run([*buildah, "from", "scratch"], env=env).strip()
    run([*buildah, "copy", container, tmp_path / "greeting.txt", "/greeting.txt"], env=env)
    run([*buildah, "config", "--label", "e2e=buildah", container], env=env)
    image_id = run([*buildah, "commit", "--format", "oci", container, "localhost/e2e-buildah:latest"],
                   env=env).strip().splitlines()[-1]
    ref = f"{vigil.host}/e2e/buildah:v1"
    digestfile = tmp_path / "digest"
    run([*buildah, "push", "--tls-verify=false", "--creds", ADMIN_CREDS, "--digestfile", digestfile, "localhost/e2e-buildah:latest",
         f"docker://{ref}"], env=env)
    pushed_digest = digestfile.read_text().strip()

    info = inspect(ref, env)
    assert info["Digest"] == pushed_digest
    assert info["Labels"]["e2e"] == "buildah"
    raw = inspect_raw(ref, env)
    assert sha256(raw) == pushed_digest
    manifest = json.loads(raw)
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["digest"].split(":", 1)[1] == image_id

    # The single layer, fetched straight from the registry, holds the file buildah copied in.
    (layer,) = manifest["layers"]
    status, headers, blob = http("GET", f"{vigil.url}/v2/e2e/buildah/blobs/{layer['digest']}")
    assert status == 200
    assert sha256(blob) == layer["digest"] and len(blob) == layer["size"]
    assert headers["Docker-Content-Digest"] == layer["digest"]
    data = gzip.decompress(blob) if layer["mediaType"].endswith("+gzip") else blob
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "greeting.txt")
        assert tar.extractfile(member).read() == payload


# ---------------------------------------------------------------------------------------------------------------
# 4. oras-py: artifacts and the referrers API


def oras_login(vigil, tmp_path: Path, user: str, password: str, auth_backend: str = "basic"):
    """An oras-py client logged in (`client.login`) as `user`.

    oras-py's login tries docker-py (which needs an engine; conftest points DOCKER_HOST nowhere) and falls back to
    writing the credentials to a docker config file, kept in tmp_path here. It does not contact the registry.

    The "basic" backend sends the credentials as Basic auth on /v2 (vigil accepts that). oras-py's default "token"
    backend caches the first bearer token it gets and, on a later 401 with error="insufficient_scope", retries with
    that same token instead of asking for a wider one (it refreshes only on a 403). A push starts with HEAD on a
    blob, gets a pull-only token for it, and then fails at the POST. That is an oras-py limitation, not a vigil
    one (vigil answers exactly as the Docker token spec says), so the token backend is only used for pulls here."""
    oras_client = pytest.importorskip("oras.client")
    client = oras_client.OrasClient(hostname=vigil.host, insecure=True, auth_backend=auth_backend)
    result = client.login(username=user, password=password, hostname=vigil.host,
                          config_path=str(tmp_path / "oras-docker-config.json"))
    assert "Succeeded" in json.dumps(result), result
    return client


@pytest.fixture
def oras_client(vigil, tmp_path):
    return oras_login(vigil, tmp_path, ADMIN_USER, ADMIN_PASSWORD)


def test_oras_artifact_with_referrers(vigil, oras_client, tmp_path, monkeypatch):
    import oras.oci

    monkeypatch.chdir(tmp_path)  # oras-py only pushes files below the working directory
    client, host = oras_client, vigil.host
    sbom_type = "application/vnd.example.sbom.v1+json"
    sig_type = "application/vnd.example.signature.v1"

    # The subject: a plain artifact with one file.
    payload = b"artifact payload\n"
    Path("artifact.txt").write_bytes(payload)
    resp = client.push(target=f"{host}/e2e/oras:v1", files=["artifact.txt:text/plain"], quiet=True)
    assert resp.status_code == 201
    subject_digest = resp.headers["Docker-Content-Digest"]
    status, _, subject_bytes = http("GET", f"{vigil.url}/v2/e2e/oras/manifests/v1", {"Accept": OCI_MANIFEST})
    assert status == 200 and sha256(subject_bytes) == subject_digest
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=subject_digest, size=len(subject_bytes))

    # Referrer 1, through oras-py's high-level push: an SBOM whose config media type is its artifact type.
    Path("sbom.json").write_text('{"spdxVersion": "SPDX-2.3", "name": "e2e"}')
    resp = client.push(target=f"{host}/e2e/oras:sbom", files=["sbom.json:application/spdx+json"],
                       manifest_config=f"sbom.json:{sbom_type}", subject=subject, quiet=True)
    assert resp.status_code == 201
    assert resp.headers.get("OCI-Subject") == subject_digest
    sbom_digest = resp.headers["Docker-Content-Digest"]

    # Referrer 2, assembled by hand with an explicit artifactType and the empty config, uploaded with oras-py's
    # lower-level blob and manifest methods.
    Path("empty.json").write_bytes(b"{}")
    Path("signature.bin").write_bytes(b"not really a signature")
    sig_container = client.get_container(f"{host}/e2e/oras:sig")
    empty = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(b"{}"), "size": 2}
    sig_layer = oras.oci.NewLayer("signature.bin", media_type="application/octet-stream")
    for path, desc in (("empty.json", empty), ("signature.bin", sig_layer)):
        r = client.upload_blob(path, sig_container, desc)
        assert r.status_code in (200, 201), (r.status_code, r.text)
    sig_manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": sig_type,
        "config": empty,
        "layers": [sig_layer],
        "subject": {"mediaType": subject.mediaType, "digest": subject.digest, "size": subject.size},
        "annotations": {"org.example.signer": "e2e"},
    }
    resp = client.upload_manifest(sig_manifest, sig_container)
    assert resp.status_code == 201, (resp.status_code, resp.text)
    assert resp.headers.get("OCI-Subject") == subject_digest
    sig_digest = resp.headers["Docker-Content-Digest"]

    # The referrers API lists both, with their artifact types.
    referrers_url = f"{vigil.url}/v2/e2e/oras/referrers/{subject_digest}"
    status, headers, body = http("GET", referrers_url)
    assert status == 200, body
    assert headers["Content-Type"] == OCI_INDEX
    index = json.loads(body)
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    by_digest = {d["digest"]: d for d in index["manifests"]}
    assert set(by_digest) == {sbom_digest, sig_digest}
    assert by_digest[sbom_digest]["artifactType"] == sbom_type
    assert by_digest[sig_digest]["artifactType"] == sig_type
    assert by_digest[sig_digest]["annotations"] == {"org.example.signer": "e2e"}
    for digest, desc in by_digest.items():
        assert desc["mediaType"] == OCI_MANIFEST
        status, _, raw = http("GET", f"{vigil.url}/v2/e2e/oras/manifests/{digest}", {"Accept": OCI_MANIFEST})
        assert status == 200 and desc["size"] == len(raw) and sha256(raw) == digest

    # Filtering by artifactType.
    status, headers, body = http("GET", f"{referrers_url}?artifactType={urllib.parse.quote(sbom_type, safe='')}")
    assert status == 200, body
    assert headers.get("OCI-Filters-Applied") == "artifactType"
    assert [d["digest"] for d in json.loads(body)["manifests"]] == [sbom_digest]
    status, headers, body = http("GET", f"{referrers_url}?artifactType=application/vnd.example.none")
    assert status == 200, body
    assert headers.get("OCI-Filters-Applied") == "artifactType"
    assert json.loads(body)["manifests"] == []

    # A manifest nobody refers to has an empty (not missing) referrers list.
    status, _, body = http("GET", f"{vigil.url}/v2/e2e/oras/referrers/{sbom_digest}")
    assert status == 200 and json.loads(body)["manifests"] == []

    # Pull the subject artifact back with oras-py: identical file content.
    files = client.pull(target=f"{host}/e2e/oras:v1", outdir=str(tmp_path / "pulled"))
    assert [Path(f).name for f in files] == ["artifact.txt"]
    assert Path(files[0]).read_bytes() == payload
    assert sorted(client.get_tags(f"{host}/e2e/oras")) == ["sbom", "sig", "v1"]


def test_oras_chunked_upload_and_tag_delete(vigil, oras_client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client, host = oras_client, vigil.host
    payload = os.urandom(300_000)
    Path("big.bin").write_bytes(payload)
    # POST, then PATCH in 64 KiB chunks (Content-Range), then PUT ?digest=.
    resp = client.push(target=f"{host}/e2e/oras-chunked:v1", files=["big.bin"], do_chunked=True,
                       chunk_size=65536, quiet=True)
    assert resp.status_code == 201
    status, headers, blob = http("GET", f"{vigil.url}/v2/e2e/oras-chunked/blobs/{sha256(payload)}")
    assert status == 200 and blob == payload

    files = client.pull(target=f"{host}/e2e/oras-chunked:v1", outdir=str(tmp_path / "pulled"))
    assert Path(files[0]).read_bytes() == payload
    assert client.get_tags(f"{host}/e2e/oras-chunked") == ["v1"]
    assert client.delete_tag(f"{host}/e2e/oras-chunked", "v1") is True  # HEAD for the digest, DELETE -> 202
    assert client.get_tags(f"{host}/e2e/oras-chunked") == []


# ---------------------------------------------------------------------------------------------------------------
# 5. python-dxf


def dxf_token_auth(vigil, user: str, password: str):
    """An `auth` callback for python-dxf, which calls it on every 401 and retries once if it changed the headers.

    The usual callback, `lambda d, r: d.authenticate(user, password, response=r)`, cannot work over plain HTTP:
    python-dxf's authenticate() raises DXFAuthInsecureError("Auth requires HTTPS") for an insecure DXF before it
    sends anything, and it would rewrite the realm to https:// anyway. So this callback does the Docker token
    exchange itself (challenge -> GET realm?service=&scope= with Basic credentials -> bearer token) and hands the
    token to python-dxf through its public `token` property; python-dxf then sends `Authorization: Bearer`."""
    def auth(d, response):
        challenge = response.headers.get("WWW-Authenticate", "")
        assert challenge.startswith("Bearer "), challenge
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        assert params["realm"] == f"{vigil.url}/auth/token" and params["service"] == "vigil", challenge
        query = [("service", params["service"])] + [("scope", s) for s in params.get("scope", "").split()]
        status, _, body = http("GET", f"{params['realm']}?{urllib.parse.urlencode(query)}",
                               auth=basic_auth(user, password))
        assert status == 200, (status, body)
        d.token = json.loads(body)["token"]
    return auth


def test_python_dxf_blobs_aliases(vigil, tmp_path):
    dxf = pytest.importorskip("dxf")
    auth = dxf_token_auth(vigil, ADMIN_USER, ADMIN_PASSWORD)
    d = dxf.DXF(vigil.host, "e2e/dxf", auth=auth, insecure=True)

    body, resp = d.api_version_check()
    assert resp.status_code == 200
    assert resp.headers.get("Docker-Distribution-API-Version") == "registry/2.0"

    # Monolithic upload from a file (POST, then PUT ?digest= with the body).
    data = os.urandom(100_000)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    digest = d.push_blob(str(path))
    assert digest == sha256(data)
    assert b"".join(d.pull_blob(digest)) == data  # dxf itself also verifies the digest while reading
    assert d.blob_size(digest) == len(data)

    # Streaming upload: an iterator body, which requests sends with Transfer-Encoding: chunked.
    chunks = [os.urandom(70_000) for _ in range(4)]
    streamed = sha256(b"".join(chunks))
    assert d.push_blob(data=iter(chunks), digest=streamed) == streamed
    assert d.blob_size(streamed) == 280_000
    assert b"".join(d.pull_blob(streamed)) == b"".join(chunks)

    # Aliases (tags) on Docker schema 2 manifests, with tag-list pagination.
    for tag in ("t1", "t2", "t3"):
        d.set_alias(tag, digest, streamed)
    assert d.list_aliases() == ["t1", "t2", "t3"]
    assert d.list_aliases(batch_size=1) == ["t1", "t2", "t3"]  # follows the Link: <...>; rel="next" header
    assert d.get_alias("t2") == [digest, streamed]
    assert d.get_digest("t2") == digest
    manifest = json.loads(d.get_manifest("t1"))
    assert manifest["mediaType"] == DOCKER_MANIFEST

    # Delete: the aliases (all three name the same manifest), then a blob.
    assert d.del_alias("t1") == [digest, streamed]
    assert d.list_aliases() == []
    d.del_blob(streamed)
    status, _, _ = http("HEAD", f"{vigil.url}/v2/e2e/dxf/blobs/{streamed}")
    assert status == 404
    with pytest.raises(Exception) as err:
        d.blob_size(streamed)
    assert getattr(err.value, "response", None) is not None and err.value.response.status_code == 404


def test_python_dxf_cross_repository_mount(vigil):
    """python-dxf mounts a blob from another repository, on a client that holds no token yet.

    python-dxf retries a request once after its auth callback, with the token it got for the scope of the first
    challenge. So the challenge to an unauthenticated `POST /v2/<dst>/blobs/uploads/?mount=<digest>&from=<src>`
    must name every scope the request needs, the source's pull included, as distribution/distribution does
    (its appendAccessRecords adds `repository:<from>:pull` for a mount)."""
    dxf = pytest.importorskip("dxf")
    auth = dxf_token_auth(vigil, ADMIN_USER, ADMIN_PASSWORD)
    src = dxf.DXF(vigil.host, "e2e/dxf-src", auth=auth, insecure=True)
    data = os.urandom(10_000)
    digest = src.push_blob(data=iter([data]), digest=sha256(data))

    # The challenge to an anonymous mount, as the client sees it.
    mount_url = (f"{vigil.url}/v2/e2e/dxf-mounted/blobs/uploads/?"
                 + urllib.parse.urlencode({"mount": digest, "from": "e2e/dxf-src"}))
    status, headers, body = http("POST", mount_url, auth=None)
    assert status == 401, (status, body)
    challenge = headers["WWW-Authenticate"]
    scopes = re.search(r'scope="([^"]*)"', challenge).group(1).split()
    assert "repository:e2e/dxf-mounted:pull,push" in scopes, challenge
    assert "repository:e2e/dxf-src:pull" in scopes, (
        f"the challenge to an anonymous mount does not name the source's pull scope: {challenge}; a client that "
        "fetches one token for it (python-dxf) then gets 401 insufficient_scope on its single retry")

    other = dxf.DXF(vigil.host, "e2e/dxf-mounted", auth=auth, insecure=True)
    assert other.mount_blob("e2e/dxf-src", digest) == digest  # 201 Created, not a fallback upload session
    assert other.blob_size(digest) == len(data)


# ---------------------------------------------------------------------------------------------------------------
# 6. Identity: the token service, logins as ordinary users with real clients, and what they may not do.
#
# Users, tokens, orgs, robots, grants and visibility are made with the `vigil` CLI against the running server's
# data directory (conftest's Vigil.cli). Pushes copy umoci's OCI layout (`umoci_image`) with skopeo unless the
# client under test pushes itself.

ALICE = "alice"
ALICE_PASSWORD = "alice-e2e-pass"
ALICE_CREDS = f"{ALICE}:{ALICE_PASSWORD}"
TOKEN_SHAPE = re.compile(r"vgt_[0-9a-f]{16}_[0-9a-f]{48}")
ACCESS_CHANGE_WITHIN = 3.0  # seconds; see wait_for_access


@pytest.fixture(scope="module")
def alice(vigil):
    """An ordinary user, who owns the namespace alice/."""
    vigil.cli("user", "add", ALICE, "--password-stdin", input=ALICE_PASSWORD + "\n")
    return ALICE


def create_token(vigil, user: str, *options) -> tuple[str, str]:
    """`vigil token create --user USER [OPTIONS]`: (token id, token). The token is stdout alone; the id is in the
    `token id ID for USER` line on stderr."""
    proc = vigil.cli("token", "create", "--user", user, *options)
    token = proc.stdout.strip()
    assert TOKEN_SHAPE.fullmatch(token), proc.stdout
    token_id = re.search(r"token id (\S+)", proc.stderr).group(1)
    return token_id, token


def push_layout(vigil, env, umoci_image, repo_tag: str, creds=None, authfile=None):
    """skopeo copy of umoci's image to <vigil>/<repo_tag>, with --dest-creds or --dest-authfile."""
    auth = creds_flag(creds, "--dest-creds") + (["--dest-authfile", authfile] if authfile else [])
    skopeo("copy", "--dest-tls-verify=false", *auth, f"oci:{umoci_image['layout']}:v1",
           f"docker://{vigil.host}/{repo_tag}", env=env)


def skopeo_push_fails(vigil, env, umoci_image, repo_tag: str, creds=None) -> str:
    return run_fails(["skopeo", "copy", "--dest-tls-verify=false", *creds_flag(creds, "--dest-creds"),
                      f"oci:{umoci_image['layout']}:v1", f"docker://{vigil.host}/{repo_tag}"], env=env)


def skopeo_inspect_fails(vigil, env, ref: str, creds=None) -> str:
    return run_fails(["skopeo", "inspect", "--tls-verify=false", *creds_flag(creds), f"docker://{vigil.host}/{ref}"],
                     env=env)


def wait_for_access(vigil, path: str, auth, allowed: bool, within: float = ACCESS_CHANGE_WITHIN) -> float:
    """Polls `GET /v2/<path>` until vigil allows it (any status but 401/403) or refuses it; returns the seconds
    that took. For changes made with the CLI while the server runs: vigil caches each caller's roles (and the
    repositories' visibility) for up to 2 s (ACCESS_CACHE_TTL in vigil-auth's authn.rs) and clears that cache at
    once only for changes made inside the server process."""
    start = time.monotonic()
    while True:
        status, _, body = http("GET", f"{vigil.url}/v2/{path}", {"Accept": ACCEPT_ALL}, auth=auth)
        if (status not in (401, 403)) == allowed:
            return time.monotonic() - start
        assert time.monotonic() - start < within, (
            f"GET /v2/{path} still answers {status} {body!r} {within}s after the CLI change")
        time.sleep(0.05)


def get_bearer(vigil, scope: str, auth) -> str:
    status, _, body = http("GET", f"{vigil.url}/auth/token?service=vigil&scope={urllib.parse.quote(scope)}",
                           auth=auth)
    assert status == 200, (status, body)
    return json.loads(body)["token"]


def test_challenge_and_token_service(vigil, alice):
    """The Docker token flow every client above relies on, spelled out over plain HTTP."""
    status, headers, body = http("GET", f"{vigil.url}/v2/", auth=None)
    assert status == 401, body
    assert headers["WWW-Authenticate"] == f'Bearer realm="{vigil.url}/auth/token",service="vigil"'
    assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"

    scope = "repository:alice/flow:pull,push"
    status, _, body = http("GET", f"{vigil.url}/auth/token?service=vigil&scope={urllib.parse.quote(scope)}",
                           auth=basic_auth(ALICE, ALICE_PASSWORD))
    assert status == 200, body
    answer = json.loads(body)
    assert {"token", "access_token", "expires_in", "issued_at"} <= set(answer)
    assert answer["token"] == answer["access_token"] and answer["expires_in"] > 0
    status, _, _ = http("GET", f"{vigil.url}/v2/", auth=f"Bearer {answer['token']}")
    assert status == 200

    # A wrong password gets no token, and no access with Basic either.
    status, _, _ = http("GET", f"{vigil.url}/auth/token?service=vigil&scope={urllib.parse.quote(scope)}",
                        auth=basic_auth(ALICE, "wrong"))
    assert status == 401
    status, _, _ = http("GET", f"{vigil.url}/v2/", auth=basic_auth(ALICE, "wrong"))
    assert status == 401


def test_docker_cli_login_then_push_and_pull(vigil, containers_env, umoci_image, alice, tmp_path):
    """`docker login` (the CLI alone: with no engine to ask, it logs in client-side), then the credentials it
    stored are used for a push (skopeo reading docker's config.json) and the docker CLI's own registry client
    (`docker manifest inspect/create/push`, which need no engine) pulls and pushes in alice's namespace."""
    require_tool("docker")
    require_tool("skopeo")
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    env = {**containers_env, "DOCKER_CONFIG": str(config_dir), "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    config = config_dir / "config.json"
    docker = ["docker"]

    # A wrong password is refused, and nothing is stored.
    err = run_fails([*docker, "login", vigil.host, "-u", ALICE, "--password-stdin"], env=env, input="wrong\n")
    assert "unauthorized" in err or "401" in err, err
    assert vigil.host not in (json.loads(config.read_text()).get("auths", {}) if config.exists() else {})

    out = run([*docker, "login", vigil.host, "-u", ALICE, "--password-stdin"], env=env, input=ALICE_PASSWORD + "\n")
    assert "Login Succeeded" in out
    stored = json.loads(config.read_text())["auths"][vigil.host]["auth"]
    assert stored == basic_auth(ALICE, ALICE_PASSWORD).removeprefix("Basic ")

    # Push with what docker login stored.
    push_layout(vigil, env, umoci_image, "alice/docker:v1", authfile=config)
    assert tags_via_http(vigil, "alice/docker") == ["v1"]

    # The docker CLI pulls the manifest...
    pulled = json.loads(run([*docker, "manifest", "inspect", "--insecure", f"{vigil.host}/alice/docker:v1"], env=env))
    assert pulled == json.loads(umoci_image["manifest"])

    # ...and pushes a manifest list of its own that points at it.
    list_ref = f"{vigil.host}/alice/docker-list:v1"
    run([*docker, "manifest", "create", "--insecure", list_ref, f"{vigil.host}/alice/docker:v1"], env=env)
    pushed = run([*docker, "manifest", "push", "--insecure", list_ref], env=env).strip().splitlines()[-1]
    assert pushed.startswith("sha256:"), pushed
    status, headers, raw = http("GET", f"{vigil.url}/v2/alice/docker-list/manifests/v1", {"Accept": ACCEPT_ALL})
    assert status == 200 and sha256(raw) == pushed
    assert [m["digest"] for m in json.loads(raw)["manifests"]] == [umoci_image["digest"]]

    # After docker logout, the same pull is refused.
    run([*docker, "logout", vigil.host], env=env)
    err = run_fails([*docker, "manifest", "inspect", "--insecure", f"{vigil.host}/alice/docker:v1"], env=env)
    assert "unauthorized" in err or "401" in err or "denied" in err, err


def test_skopeo_login_with_api_token(vigil, containers_env, umoci_image, alice, tmp_path):
    """An API token works as the password: `skopeo login` with it, `--creds user:token`, and straight over HTTP
    (Basic with the token, or `Authorization: Bearer vgt_...`)."""
    require_tool("skopeo")
    _, token = create_token(vigil, ALICE, "--name", "e2e-skopeo")
    env = own_authfile(containers_env, tmp_path)

    run(["skopeo", "login", "--tls-verify=false", "-u", ALICE, "--password-stdin", vigil.host], env=env,
        input=token + "\n")
    push_layout(vigil, env, umoci_image, "alice/skopeo:v1")  # with the login's auth file (REGISTRY_AUTH_FILE)
    assert inspect(f"{vigil.host}/alice/skopeo:v1", env, creds=None)["Digest"] == umoci_image["digest"]
    run(["skopeo", "logout", vigil.host], env=env)
    skopeo_inspect_fails(vigil, env, "alice/skopeo:v1")

    # --creds with the token, without any login.
    assert inspect(f"{vigil.host}/alice/skopeo:v1", containers_env, creds=f"{ALICE}:{token}")["Digest"] == \
        umoci_image["digest"]
    back = tmp_path / "back"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", f"{ALICE}:{token}", f"docker://{vigil.host}/alice/skopeo:v1",
           f"oci:{back}:v1", env=containers_env)
    assert layout_manifest(back, "v1") == (umoci_image["digest"], umoci_image["manifest"])

    for auth in (basic_auth(ALICE, token), f"Bearer {token}"):
        status, _, body = http("GET", f"{vigil.url}/v2/alice/skopeo/tags/list", auth=auth)
        assert status == 200 and json.loads(body)["tags"] == ["v1"], (auth[:12], status, body)
    # The token belongs to alice: it is no password for anybody else.
    status, _, _ = http("GET", f"{vigil.url}/v2/alice/skopeo/tags/list", auth=basic_auth(ADMIN_USER, token))
    assert status == 401


def test_podman_login_push_pull_as_user(vigil, containers_env, umoci_image, alice, tmp_path, short_tmp):
    require_tool("podman")
    env = own_authfile(containers_env, tmp_path)
    podman = podman_cmd(tmp_path, short_tmp)
    login = [*podman, "login", "--tls-verify=false", "-u", ALICE, "--password-stdin", vigil.host]

    err = run_fails(login, env=env, input="wrong\n")
    assert "unauthorized" in err or "invalid username/password" in err, err
    run(login, env=env, input=ALICE_PASSWORD + "\n")

    # podman reads the image from umoci's layout (no registry involved), then pushes it to alice's namespace.
    image_id = run([*podman, "pull", f"oci:{umoci_image['layout']}:v1"], env=env).strip().splitlines()[-1]
    target = f"{vigil.host}/alice/podman:v1"
    run([*podman, "tag", image_id, target], env=env)
    digestfile = tmp_path / "digest"
    run([*podman, "push", "--tls-verify=false", "--digestfile", digestfile, target], env=env)
    pushed = digestfile.read_text().strip()
    assert tags_via_http(vigil, "alice/podman") == ["v1"]

    run([*podman, "rmi", "--all", "--force"], env=env)
    run([*podman, "pull", "--tls-verify=false", target], env=env)
    image = json.loads(run([*podman, "image", "inspect", target], env=env))[0]
    assert image["Digest"] == pushed
    assert image["Id"] == umoci_image["config_digest"].split(":", 1)[1]

    # Logged out, the pull is refused.
    run([*podman, "logout", vigil.host], env=env)
    run([*podman, "rmi", "--all", "--force"], env=env)
    err = run_fails([*podman, "pull", "--tls-verify=false", target], env=env)
    assert "unauthorized" in err or "authentication required" in err, err


def test_oras_login_push_pull_as_user(vigil, alice, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = oras_login(vigil, tmp_path, ALICE, ALICE_PASSWORD)
    payload = b"alice's artifact\n"
    Path("note.txt").write_bytes(payload)
    resp = client.push(target=f"{vigil.host}/alice/oras:v1", files=["note.txt:text/plain"], quiet=True)
    assert resp.status_code == 201, (resp.status_code, resp.text)
    assert tags_via_http(vigil, "alice/oras") == ["v1"]

    files = client.pull(target=f"{vigil.host}/alice/oras:v1", outdir=str(tmp_path / "pulled"))
    assert [Path(f).read_bytes() for f in files] == [payload]

    # oras-py's (default) token backend: a pull through the token service with alice's credentials.
    token_client = oras_login(vigil, tmp_path, ALICE, ALICE_PASSWORD, auth_backend="token")
    files = token_client.pull(target=f"{vigil.host}/alice/oras:v1", outdir=str(tmp_path / "pulled-token"))
    assert [Path(f).read_bytes() for f in files] == [payload]
    assert token_client.auth.token, "oras-py should have used a bearer token from /auth/token"

    # alice may not push into the admin's namespace (oras-py raises with the registry's error body).
    with pytest.raises(ValueError, match="DENIED"):
        client.push(target=f"{vigil.host}/admin/oras-by-alice:v1", files=["note.txt:text/plain"], quiet=True)
    assert tags_via_http(vigil, "admin/oras-by-alice") is None

    # A wrong password: nothing is pushed.
    (tmp_path / "wrong").mkdir()
    wrong = oras_login(vigil, tmp_path / "wrong", ALICE, "not-alice-password")
    with pytest.raises(ValueError, match="UNAUTHORIZED"):
        wrong.push(target=f"{vigil.host}/alice/oras:v2", files=["note.txt:text/plain"], quiet=True)
    assert tags_via_http(vigil, "alice/oras") == ["v1"]


def test_user_cannot_push_to_or_pull_from_admin_namespace(vigil, containers_env, umoci_image, alice):
    require_tool("skopeo")
    env = containers_env
    err = skopeo_push_fails(vigil, env, umoci_image, "admin/private:v1", creds=ALICE_CREDS)
    assert "denied" in err or "unauthorized" in err, err
    # Nothing was written: no repository, no manifest, none of the blobs skopeo offered.
    assert tags_via_http(vigil, "admin/private") is None
    status, _, _ = http("HEAD", f"{vigil.url}/v2/admin/private/manifests/v1", {"Accept": ACCEPT_ALL})
    assert status == 404
    manifest = json.loads(umoci_image["manifest"])
    for desc in [manifest["config"], *manifest["layers"]]:
        status, _, _ = http("HEAD", f"{vigil.url}/v2/admin/private/blobs/{desc['digest']}")
        assert status == 404, desc
    status, _, body = http("GET", f"{vigil.url}/v2/_catalog")
    assert status == 200 and "admin/private" not in json.loads(body)["repositories"]

    # The admin pushes there; alice can still neither read nor overwrite it.
    push_layout(vigil, env, umoci_image, "admin/private:v1", creds=ADMIN_CREDS)
    err = skopeo_inspect_fails(vigil, env, "admin/private:v1", creds=ALICE_CREDS)
    assert "denied" in err or "unauthorized" in err, err
    skopeo_push_fails(vigil, env, umoci_image, "admin/private:v2", creds=ALICE_CREDS)
    assert tags_via_http(vigil, "admin/private") == ["v1"]

    # The same refusals over HTTP: Basic without the right -> 403 DENIED; a bearer token whose scope was cut down
    # to nothing -> 401 insufficient_scope.
    status, _, body = http("GET", f"{vigil.url}/v2/admin/private/manifests/v1", {"Accept": ACCEPT_ALL},
                           auth=basic_auth(ALICE, ALICE_PASSWORD))
    assert status == 403 and json.loads(body)["errors"][0]["code"] == "DENIED", (status, body)
    bearer = get_bearer(vigil, "repository:admin/private:pull,push", basic_auth(ALICE, ALICE_PASSWORD))
    status, headers, body = http("GET", f"{vigil.url}/v2/admin/private/manifests/v1", {"Accept": ACCEPT_ALL},
                                 auth=f"Bearer {bearer}")
    assert status == 401, (status, body)
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    # alice's catalog does not show the admin's repositories.
    status, _, body = http("GET", f"{vigil.url}/v2/_catalog", auth=basic_auth(ALICE, ALICE_PASSWORD))
    assert status == 200, body
    assert not [r for r in json.loads(body)["repositories"] if r.startswith(("admin/", "e2e/"))], body


def test_pull_only_token_cannot_push(vigil, containers_env, umoci_image, alice, tmp_path):
    require_tool("skopeo")
    env = containers_env
    push_layout(vigil, env, umoci_image, "alice/scoped:v1", creds=ALICE_CREDS)
    _, token = create_token(vigil, ALICE, "--name", "e2e-pull-only", "--scope", "alice/*:pull")
    creds = f"{ALICE}:{token}"

    assert inspect(f"{vigil.host}/alice/scoped:v1", env, creds=creds)["Digest"] == umoci_image["digest"]
    skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{vigil.host}/alice/scoped:v1",
           f"dir:{tmp_path / 'pulled'}", env=env)
    assert (tmp_path / "pulled" / "manifest.json").read_bytes() == umoci_image["manifest"]

    err = skopeo_push_fails(vigil, env, umoci_image, "alice/scoped:v2", creds=creds)
    assert "denied" in err or "unauthorized" in err, err
    err = skopeo_push_fails(vigil, env, umoci_image, "alice/scoped-new:v1", creds=creds)
    assert "denied" in err or "unauthorized" in err, err
    assert tags_via_http(vigil, "alice/scoped") == ["v1"]
    assert tags_via_http(vigil, "alice/scoped-new") is None
    # Nor may it delete.
    run_fails(["skopeo", "delete", "--tls-verify=false", "--creds", creds, f"docker://{vigil.host}/alice/scoped:v1"],
              env=env)
    assert tags_via_http(vigil, "alice/scoped") == ["v1"]


def test_revoked_token_stops_working_at_once(vigil, containers_env, umoci_image, alice):
    require_tool("skopeo")
    env = containers_env
    push_layout(vigil, env, umoci_image, "alice/revoked:v1", creds=ALICE_CREDS)
    token_id, token = create_token(vigil, ALICE, "--name", "e2e-revoke")
    creds = f"{ALICE}:{token}"
    ref = f"{vigil.host}/alice/revoked:v1"
    assert inspect(ref, env, creds=creds)["Digest"] == umoci_image["digest"]
    # A registry token obtained with the API token, before the revocation.
    bearer = get_bearer(vigil, "repository:alice/revoked:pull", basic_auth(ALICE, token))
    manifest_url = f"{vigil.url}/v2/alice/revoked/manifests/v1"
    assert http("GET", manifest_url, {"Accept": ACCEPT_ALL}, auth=f"Bearer {bearer}")[0] == 200

    vigil.cli("token", "revoke", token_id)

    # At once: no sleep, no retry.
    err = skopeo_inspect_fails(vigil, env, "alice/revoked:v1", creds=creds)
    assert "unauthorized" in err or "denied" in err, err
    skopeo_push_fails(vigil, env, umoci_image, "alice/revoked:v2", creds=creds)
    for auth in (basic_auth(ALICE, token), f"Bearer {token}", f"Bearer {bearer}"):
        status, _, body = http("GET", manifest_url, {"Accept": ACCEPT_ALL}, auth=auth)
        assert status == 401, (auth[:16], status, body)
    status, _, _ = http("GET", f"{vigil.url}/auth/token?service=vigil&scope=repository:alice/revoked:pull",
                        auth=basic_auth(ALICE, token))
    assert status == 401
    # alice's password is unaffected.
    assert inspect(ref, env, creds=ALICE_CREDS)["Digest"] == umoci_image["digest"]


def test_anonymous_pull_only_when_public(vigil, containers_env, umoci_image, alice, tmp_path):
    require_tool("skopeo")
    env = containers_env  # its auth file holds no credentials: everything below without --creds is anonymous
    push_layout(vigil, env, umoci_image, "alice/public:v1", creds=ALICE_CREDS)
    ref = f"{vigil.host}/alice/public:v1"

    err = skopeo_inspect_fails(vigil, env, "alice/public:v1")
    assert "unauthorized" in err or "authentication required" in err, err
    assert http("GET", f"{vigil.url}/v2/alice/public/manifests/v1", {"Accept": ACCEPT_ALL}, auth=None)[0] == 401

    vigil.cli("visibility", "alice/public")
    wait_for_access(vigil, "alice/public/manifests/v1", None, allowed=True)
    assert inspect(ref, env, creds=None)["Digest"] == umoci_image["digest"]
    skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{tmp_path / 'anon'}:v1", env=env)
    assert layout_manifest(tmp_path / "anon", "v1") == (umoci_image["digest"], umoci_image["manifest"])
    status, _, body = http("GET", f"{vigil.url}/v2/alice/public/manifests/v1", {"Accept": ACCEPT_ALL}, auth=None)
    assert status == 200 and body == umoci_image["manifest"]
    # Public means pullable, not pushable, and only that repository.
    skopeo_push_fails(vigil, env, umoci_image, "alice/public:v2")
    assert tags_via_http(vigil, "alice/public") == ["v1"]
    push_layout(vigil, env, umoci_image, "alice/not-public:v1", creds=ALICE_CREDS)
    skopeo_inspect_fails(vigil, env, "alice/not-public:v1")

    vigil.cli("visibility", "alice/public", "--private")
    wait_for_access(vigil, "alice/public/manifests/v1", None, allowed=False)
    skopeo_inspect_fails(vigil, env, "alice/public:v1")


def test_org_member_robot_and_grant(vigil, containers_env, umoci_image, alice):
    """An org whose member may write, and a robot with a grant on one repository, pushing with skopeo."""
    require_tool("skopeo")
    env = containers_env
    vigil.cli("org", "create", "acme")
    vigil.cli("org", "add-member", "acme", ALICE, "--role", "write")
    robot_token = vigil.cli("robot", "create", "acme", "ci").stdout.strip()
    assert TOKEN_SHAPE.fullmatch(robot_token), robot_token
    vigil.cli("grant", "acme/app", "acme+ci", "--role", "write")
    robot = f"acme+ci:{robot_token}"
    # alice's roles may be cached from the tests before (see wait_for_access).
    wait_for_access(vigil, "acme/from-alice/tags/list", basic_auth(ALICE, ALICE_PASSWORD), allowed=True)

    push_layout(vigil, env, umoci_image, "acme/from-alice:v1", creds=ALICE_CREDS)
    push_layout(vigil, env, umoci_image, "acme/app:v1", creds=robot)
    assert inspect(f"{vigil.host}/acme/app:v1", env, creds=robot)["Digest"] == umoci_image["digest"]
    assert inspect(f"{vigil.host}/acme/app:v1", env, creds=ALICE_CREDS)["Digest"] == umoci_image["digest"]
    # The robot's grant does not reach alice's namespace.
    skopeo_push_fails(vigil, env, umoci_image, "alice/by-robot:v1", creds=robot)
    assert tags_via_http(vigil, "alice/by-robot") is None
