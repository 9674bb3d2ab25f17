"""A test CA, certificates, and a TLS front for the Tansu broker.

Tansu 0.6.0 lists ``--cert``/``--key`` but refuses them together and completes no TLS
handshake with ``--cert`` alone, so TLS is terminated in front of it: a real TLS server
(Python's ssl, optionally requiring client certificates) that relays the bytes to
the broker, which advertises the TLS address. Clients then speak Kafka over TLS
end to end, as they would to a TLS listener.
"""

import asyncio
import datetime
import ipaddress
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.broker import free_port, tansu_binary


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path: Path, key, cert) -> None:
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_pki(directory: Path, name: str = "ca") -> dict[str, Path]:
    """A CA and, signed by it, a server certificate for 127.0.0.1 and a client certificate."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"alertflow test {name}"))
        .issuer_name(_name(f"alertflow test {name}"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(directory / name, ca_key, ca)
    out = {"ca": directory / f"{name}.pem"}
    for role, san in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(f"{role}.alertflow.test"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        _write(directory / f"{name}-{role}", key, builder.sign(ca_key, hashes.SHA256()))
        out[f"{role}_cert"] = directory / f"{name}-{role}.pem"
        out[f"{role}_key"] = directory / f"{name}-{role}.key"
    return out


class TlsFrontedBroker:
    """Tansu on a private port, reachable only through a TLS listener that relays to it."""

    def __init__(self, pki: dict[str, Path], require_client_cert: bool = False) -> None:
        self.tls_port = free_port()
        self.plain_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.tls_port}"
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(pki["server_cert"], pki["server_key"])
        if require_client_cert:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(pki["ca"])
        self._listener = socket.create_server(("127.0.0.1", self.tls_port))
        self._process: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> "TlsFrontedBroker":
        """Start the broker (advertising the TLS address) and the TLS relay."""
        self._process = subprocess.Popen(
            [
                str(tansu_binary()), "broker",
                "--listener-url", f"tcp://127.0.0.1:{self.plain_port}",
                "--advertised-listener-url", f"tcp://127.0.0.1:{self.tls_port}",
                "--storage-engine", "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.plain_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        ready = threading.Event()
        threading.Thread(target=self._relay_forever, args=(ready,), daemon=True).start()
        ready.wait(10)
        return self

    def _relay_forever(self, ready: threading.Event) -> None:
        # asyncio keeps each TLS connection in one thread (OpenSSL objects are not
        # safe to read and write from two threads at once).
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self._listener, ssl=self.context)
        )
        ready.set()
        self._loop.run_forever()  # until stop() stops it

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.plain_port)
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))

    def stop(self) -> None:
        """Stop relaying and stop the broker."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (OSError, ssl.SSLError):
        pass
    finally:
        writer.close()
