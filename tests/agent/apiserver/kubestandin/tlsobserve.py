# SPDX-License-Identifier: Apache-2.0
"""What each TLS handshake of the stand-in carried about session resumption: the session ticket the
client offered in its ClientHello (the TLS 1.3 pre_shared_key extension) or none, and the tickets the
server sent it (NewSessionTicket). Python's ssl tells only whether a session was resumed
(`SSLSocket.session_reused`); a handshake that was not can mean the client had no ticket to offer,
or that the server refused the one it offered, and only the ClientHello tells which.

OpenSSL clients (libcurl's, the agent's) use a TLS 1.3 ticket once, as RFC 8446 (C.4) asks: a
connection that resumed has spent its ticket, and the client has another only when it reads the one
the server sends on that connection. A connection begun in between offers none.

The messages come from SSLContext._msg_callback (OpenSSL's message callback; in CPython since 3.8,
not documented). Tickets are named by a short hash of their bytes, so an offered ticket can be traced
to the handshake that issued it."""
import hashlib
import ssl
import threading

PRE_SHARED_KEY = 41  # the TLS extension (RFC 8446 4.2.11)

_lock = threading.Lock()
_hellos = 0  # ClientHellos seen, in the order the server read them


def available():
    return hasattr(ssl.SSLContext, "_msg_callback")


def ticket_id(ticket):
    return hashlib.sha256(ticket).hexdigest()[:12]


def _u16(b, i):
    return int.from_bytes(b[i:i + 2], "big")


def offered_ticket(hello):
    """The ticket id a ClientHello handshake message (with its 4-byte header) offers, or None."""
    b = hello[4:]
    i = 2 + 32  # legacy_version, random
    i += 1 + b[i]  # legacy_session_id
    i += 2 + _u16(b, i)  # cipher_suites
    i += 1 + b[i]  # legacy_compression_methods
    if i + 2 > len(b):
        return None
    end = i + 2 + _u16(b, i)
    i += 2
    while i + 4 <= end:
        kind, size = _u16(b, i), _u16(b, i + 2)
        if kind == PRE_SHARED_KEY:
            # OfferedPsks: identities<7..2^16-1> of {identity<1..2^16-1>, obfuscated_ticket_age},
            # then the binders. OpenSSL offers one identity (its session's ticket).
            ext = b[i + 4:i + 4 + size]
            return ticket_id(ext[4:4 + _u16(ext, 2)])
        i += 4 + size
    return None


def issued_ticket(msg):
    """The ticket id of a TLS 1.3 NewSessionTicket handshake message (with its 4-byte header)."""
    b = msg[4:]
    i = 4 + 4  # ticket_lifetime, ticket_age_add
    i += 1 + b[i]  # ticket_nonce
    return ticket_id(b[i + 2:i + 2 + _u16(b, i)])


def _record(conn):
    rec = getattr(conn, "standin_tls", None)
    if rec is None:
        rec = {"hello": None, "offered": None, "issued": []}
        conn.standin_tls = rec
    return rec


def _on_message(conn, direction, version, content_type, msg_type, data):
    global _hellos
    if content_type != ssl._TLSContentType.HANDSHAKE:
        return
    try:
        if direction == "read" and msg_type == ssl._TLSMessageType.CLIENT_HELLO:
            with _lock:
                _hellos += 1
                seq = _hellos
            rec = _record(conn)
            rec.update(hello=seq, offered=offered_ticket(data))
        elif direction == "write" and msg_type == ssl._TLSMessageType.NEWSESSION_TICKET:
            _record(conn)["issued"].append(issued_ticket(data))
    except (IndexError, AttributeError):
        pass  # a malformed ClientHello: OpenSSL refuses it, no handshake to describe


def install(ctx):
    """Makes every handshake on sockets of @ctx leave its record in `sock.standin_tls`:
    {"hello": n (ClientHellos read so far), "offered": ticket id or None, "issued": [ticket id]}."""
    if available():
        ctx._msg_callback = _on_message


def record(sock):
    """The handshake record of an SSLSocket (None before its ClientHello, or without the callback)."""
    return getattr(sock, "standin_tls", None)
