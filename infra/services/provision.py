"""What the local services need on this machine before they can start: redis-server and Java/Maven from
apt (when running as root), and Kafka's and Cassandra's jars resolved by Maven into `Settings.state_dir`.
Cheap once done. Starting and stopping the processes is launcher.py's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger("chirp.services")
MAVEN = Path(__file__).resolve().parent / "maven"


class ServiceError(RuntimeError):
    """A service could not be provisioned, started or reached; the message names what to look at."""


def require_redis_server() -> None:
    if shutil.which("redis-server") is None:
        apt_install("redis-server")


def require_java() -> None:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        apt_install("openjdk-17-jre-headless", "maven")


def resolve_jars(name: str, state_dir: Path) -> Path:
    """Copies a service's runtime jars from Maven Central (through ~/.m2) once per pom version."""
    pom = MAVEN / name / "pom.xml"
    lib = state_dir / "lib" / name
    stamp = lib / ".pom-sha256"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return lib
    shutil.rmtree(lib, ignore_errors=True)
    log.info("resolving %s jars with Maven (first run only)", name)
    cmd = ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
           f"-DoutputDirectory={lib}", "-DincludeScope=runtime"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceError(f"maven could not resolve {name} jars:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    stamp.write_text(digest)
    return lib


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServiceError(f"missing {' '.join(packages)}: install it (apt-get install {' '.join(packages)})")
    log.info("installing %s with apt-get", " ".join(packages))
    for cmd in (["apt-get", "update", "-qq"],
                ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", *packages]):  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
