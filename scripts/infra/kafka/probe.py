"""Readiness probe for the local broker, standard library only.

A TCP connect is not enough: the broker binds its listener before it serves requests. This sends
a real Metadata request (after ApiVersions, so that a Kafka without Metadata v4 fails clearly
instead of timing out) and succeeds once the broker lists at least one live broker.

usage: probe.py [HOST:PORT]   exit 0 ready, 1 not ready (reason on stderr)
"""

import socket
import struct
import sys

API_METADATA, API_VERSIONS = 3, 18
METADATA_VERSION = 4  # oldest version Kafka 4.x still serves; non-flexible, easy to encode


def request(
    sock: socket.socket, api_key: int, version: int, corr_id: int, body: bytes = b""
) -> bytes:
    client_id = b"crm-infra-probe"
    header = struct.pack(">hhih", api_key, version, corr_id, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    payload = recv_exact(sock, size)
    if struct.unpack(">i", payload[:4])[0] != corr_id:
        raise RuntimeError("correlation id mismatch")
    return payload[4:]


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("connection closed by broker")
        buf += chunk
    return buf


def metadata_supported(resp: bytes) -> bool:
    error, count = struct.unpack(">hi", resp[:6])
    if error:
        raise RuntimeError(f"ApiVersions error {error}")
    for i in range(count):
        key, low, high = struct.unpack(">hhh", resp[6 + 6 * i : 12 + 6 * i])
        if key == API_METADATA:
            return bool(low <= METADATA_VERSION <= high)
    return False


def live_brokers(resp: bytes) -> int:
    # throttle_time_ms, then the brokers array (node_id, host, port, rack).
    count: int = struct.unpack(">i", resp[4:8])[0]
    return max(count, 0)


def main() -> int:
    host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2) as sock:
            if not metadata_supported(request(sock, API_VERSIONS, 0, 1)):
                raise RuntimeError(f"broker does not serve Metadata v{METADATA_VERSION}")
            # topics = null (all topics), allow_auto_topic_creation = false
            body = struct.pack(">ib", -1, 0)
            if live_brokers(request(sock, API_METADATA, METADATA_VERSION, 2, body)) < 1:
                raise RuntimeError("metadata lists no live broker yet")
    except (OSError, RuntimeError, struct.error) as exc:
        print(f"kafka not ready at {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
