"""Maven end to end with the machine's mvn and Debian's deploy and dependency plugins (no other repository is
reachable here): `deploy:deploy-file` of a release and of two SNAPSHOT builds with a user's password from
settings.xml, `dependency:get` of both from an empty local repository (the SNAPSHOT resolves to its newest
timestamped build through the metadata vigil writes), a redeploy of the release refused, and the events read
back."""

import subprocess

from conftest import ADMIN_PASSWORD, ADMIN_USER
from test_audit import AuditLog

DEPLOY = "org.apache.maven.plugins:maven-deploy-plugin:3.0.0:deploy-file"
GET = "org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get"


def mvn(settings, cwd, *args, check=True):
    proc = subprocess.run(["mvn", "-B", "-s", str(settings), *args], cwd=cwd, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, f"mvn {' '.join(args)}\n{proc.stdout[-4000:]}"
    return proc


def test_mvn_deploy_and_resolve(vigil, tmp_path):
    log = AuditLog(vigil)
    vigil.cli("repo", "create", "e2e/java", "--format", "maven")
    url = f"{vigil.url}/maven/e2e/java/"
    settings = tmp_path / "settings.xml"
    local = tmp_path / "m2"
    settings.write_text(
        f"<settings><localRepository>{local}</localRepository>"
        f"<servers><server><id>vigil</id><username>{ADMIN_USER}</username><password>{ADMIN_PASSWORD}</password>"
        "</server></servers><mirrors><mirror><id>debian</id><mirrorOf>central</mirrorOf>"
        "<url>file:///usr/share/maven-repo</url></mirror></mirrors></settings>")

    def deploy(content, version, check=True):
        jar = tmp_path / "demo.jar"
        jar.write_text(content)
        return mvn(settings, tmp_path, DEPLOY, f"-Dfile={jar}", "-DgroupId=com.acme", "-DartifactId=demo",
                   f"-Dversion={version}", "-Dpackaging=jar", "-DrepositoryId=vigil", f"-Durl={url}", check=check)

    mark = log.mark()
    deploy("release 1.0", "1.0")
    deploy("snapshot build 1", "1.1-SNAPSHOT")
    deploy("snapshot build 2", "1.1-SNAPSHOT")
    events = [e for e in log.events() if e["seq"] > mark and e["registry"] == "maven"]
    # Maven reads without credentials first and answers the 401 challenge; besides those, only the first lookup
    # of the SNAPSHOT's metadata misses (deploy reads it before the first build exists).
    misses = [(e["request"]["path"], e["response"]["status"]) for e in events if e["outcome"] != "success"]
    assert {m for m in misses if m[1] != 401} == {("/maven/e2e/java/com/acme/demo/1.1-SNAPSHOT/maven-metadata.xml", 404)}, \
        misses
    assert all(e["request"]["method"] == "GET" for e in events if e["response"]["status"] == 401), misses
    pushes = [e for e in events if e["kind"] == "push_repo"]
    assert [e["artifact"] for e in pushes[:2]] == ["com.acme:demo@1.0"] * 2, pushes  # the jar and its pom
    assert all(e["detail"].startswith("sha256:") and e["user"]["name"] == ADMIN_USER for e in pushes), pushes
    assert sum(e["kind"] == "verify_checksum" for e in events) >= 4, "every uploaded checksum was checked"

    mvn(settings, tmp_path, GET, "-Dartifact=com.acme:demo:1.0", f"-DremoteRepositories=vigil::default::{url}")
    assert (local / "com/acme/demo/1.0/demo-1.0.jar").read_text() == "release 1.0"
    mvn(settings, tmp_path, GET, "-Dartifact=com.acme:demo:1.1-SNAPSHOT", f"-DremoteRepositories=vigil::default::{url}")
    assert (local / "com/acme/demo/1.1-SNAPSHOT/demo-1.1-SNAPSHOT.jar").read_text() == "snapshot build 2"

    refused = deploy("another 1.0", "1.0", check=False)
    assert refused.returncode != 0 and "409" in refused.stdout and "redeploying is refused" in refused.stdout, \
        refused.stdout[-2000:]
