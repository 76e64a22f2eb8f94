"""The web config file (`--web-config-file`), in the format Prometheus and Alertmanager
read (exporter-toolkit): `basic_auth_users` with bcrypt hashes, and `tls_server_config`
for HTTPS. One file format for the whole monitoring stack, so one set of habits."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from receiver.runtime.config import read_yaml, validated
from receiver.runtime.errors import ConfigError

_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
MAKE_HASH = "htpasswd -nBC 10 '' | tr -d ':\\n'"


def _bcrypt_hash(value: str) -> str:
    if not _BCRYPT.fullmatch(value):
        raise ValueError(f"not a bcrypt hash; make one with `{MAKE_HASH}`")
    return value


def _user_name(name: str) -> str:
    if not name or ":" in name:  # basic auth sends user:password
        raise ValueError(f"user {name!r}: a name must be non-empty and without ':'")
    return name


class TLSServer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cert_file: Path
    key_file: Path
    min_version: Literal["TLS12", "TLS13"] = "TLS12"


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tls_server_config: TLSServer | None = None
    basic_auth_users: dict[
        Annotated[str, AfterValidator(_user_name)], Annotated[str, AfterValidator(_bcrypt_hash)]
    ] = {}

    def ssl_context(self) -> ssl.SSLContext | None:
        tls = self.tls_server_config
        if tls is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = (
            ssl.TLSVersion.TLSv1_3 if tls.min_version == "TLS13" else ssl.TLSVersion.TLSv1_2
        )
        context.load_cert_chain(tls.cert_file, tls.key_file)
        return context


def load_web_config(path: Path) -> WebConfig:
    data, line_of = read_yaml(path, "web config file")
    config = validated(WebConfig, data, line_of)
    tls = config.tls_server_config
    if tls is None:
        return config
    # Relative to the file, as the exporter toolkit reads them.
    tls = tls.model_copy(
        update={"cert_file": path.parent / tls.cert_file, "key_file": path.parent / tls.key_file}
    )
    config = config.model_copy(update={"tls_server_config": tls})
    try:
        config.ssl_context()
    except (OSError, ssl.SSLError) as exc:
        where = line_of(("tls_server_config", "cert_file"))
        raise ConfigError(
            [
                f"{where}: cannot load the certificate {tls.cert_file} with key "
                f"{tls.key_file}: {getattr(exc, 'strerror', None) or exc}; give PEM files "
                "this process can read, the key matching the certificate"
            ]
        ) from exc
    return config
