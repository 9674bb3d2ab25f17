"""TLS and SASL for every Kafka client of the job, as typed settings (``kafka.security``).

Passwords never sit in the config file: they come from an environment variable or a
file (a Kubernetes Secret mounted as a volume) named here, are held as ``SecretStr``
and are only revealed when the librdkafka settings are built. Raw librdkafka keys
under ``kafka.config`` still work and win over these.
"""

import os
from pathlib import Path
from typing import Any, Literal

from alertflow.schemas.errors import AlertflowError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

_TLS_PROTOCOLS = ("SSL", "SASL_SSL")
_SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


class SecretUnavailable(AlertflowError):
    """A password's environment variable or file is missing or empty."""


class SecretSource(BaseModel):
    """Where a secret is read from: exactly one of an environment variable or a file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = Field(None, description="Environment variable holding the secret.")
    file: Path | None = Field(None, description="File holding the secret (trailing newline cut).")

    @model_validator(mode="after")
    def _one_source(self) -> "SecretSource":
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def read(self, what: str) -> SecretStr:
        """The secret, or a :class:`SecretUnavailable` naming where it was looked for."""
        if self.env is not None:
            value = os.environ.get(self.env, "")
            where = f"environment variable {self.env}"
        else:
            assert self.file is not None  # the validator guarantees one source
            try:
                value = self.file.read_text().rstrip("\r\n")
            except OSError as exc:
                raise SecretUnavailable(
                    f"{what}: cannot read {self.file}: {exc.strerror}"
                ) from None
            where = f"file {self.file}"
        if not value:
            raise SecretUnavailable(f"{what}: {where} is unset or empty")
        return SecretStr(value)


class KafkaSecurity(BaseModel):
    """``security.protocol``, SASL and TLS settings for librdkafka.

    >>> settings = KafkaSecurity(protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
    ...     sasl_username="alertflow", sasl_password={"env": "KAFKA_PASSWORD"}, ca_file="ca.pem")
    >>> for key, value in settings.librdkafka().items():
    ...     print(key, value)
    security.protocol SASL_SSL
    ssl.ca.location ca.pem
    sasl.mechanism SCRAM-SHA-512
    sasl.username alertflow
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="librdkafka's security.protocol."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="Needed with SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_username: str | None = None
    sasl_password: SecretSource | None = Field(
        None, description="Where the SASL password is read: {env: NAME} or {file: PATH}."
    )
    ca_file: Path | None = Field(None, description="PEM CA bundle that signed the brokers.")
    cert_file: Path | None = Field(None, description="Client certificate (PEM), for mutual TLS.")
    key_file: Path | None = Field(None, description="Client private key (PEM), for mutual TLS.")
    key_password: SecretSource | None = Field(None, description="If the private key is encrypted.")
    verify_hostname: bool = Field(
        True, description="Check the broker certificate's name (ssl.endpoint.identification)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "KafkaSecurity":
        sasl = self.protocol in _SASL_PROTOCOLS
        if sasl and (self.sasl_mechanism is None or not self.sasl_username):
            raise ValueError(f"protocol {self.protocol} needs sasl_mechanism and sasl_username")
        if sasl and self.sasl_password is None:
            raise ValueError(f"protocol {self.protocol} needs sasl_password ({{env|file: ...}})")
        if not sasl and (self.sasl_mechanism or self.sasl_username or self.sasl_password):
            raise ValueError(f"SASL settings given but protocol is {self.protocol}")
        tls_files = (self.ca_file, self.cert_file, self.key_file)
        if self.protocol not in _TLS_PROTOCOLS and any(tls_files):
            raise ValueError(f"TLS files given but protocol is {self.protocol} (SSL or SASL_SSL)")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS)")
        return self

    def librdkafka(self) -> dict[str, Any]:
        """The librdkafka settings, passwords left out (see :meth:`secrets`)."""
        out: dict[str, Any] = {"security.protocol": self.protocol}
        if self.protocol in _TLS_PROTOCOLS:
            files = {
                "ssl.ca.location": self.ca_file,
                "ssl.certificate.location": self.cert_file,
                "ssl.key.location": self.key_file,
            }
            out.update({k: str(v) for k, v in files.items() if v is not None})
            if not self.verify_hostname:
                out["ssl.endpoint.identification.algorithm"] = "none"
        if self.protocol in _SASL_PROTOCOLS:
            out["sasl.mechanism"] = self.sasl_mechanism
            out["sasl.username"] = self.sasl_username
        return out

    def secrets(self) -> dict[str, str]:
        """The passwords, read now from their environment variables or files, revealed.

        Only for handing to librdkafka: nothing else should hold the result.
        """
        sources = {"sasl.password": self.sasl_password, "ssl.key.password": self.key_password}
        return {
            key: source.read(f"kafka.security ({key})").get_secret_value()
            for key, source in sources.items()
            if source is not None
        }
