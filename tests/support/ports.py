"""Ports for the tests, never picked before binding: a server binds port 0 and says which
port the OS gave it. For a port that must refuse connections (a database or mail server
that is down), a socket is bound by the OS's choice and never listened on, and held until
the test process ends: nothing answers there, and no other server can take it meanwhile."""

from __future__ import annotations

import asyncio
import socket

from aiosmtpd.controller import Controller

_HELD: list[socket.socket] = []  # the refusing ports' sockets, closed when the process ends


def refused_port() -> int:
    """A port of 127.0.0.1 where every connection is refused for the rest of the run."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    _HELD.append(holder)
    return holder.getsockname()[1]


class SmtpServer(Controller):
    """aiosmtpd's threaded SMTP server on 127.0.0.1, port 0; `port` is the one it was given."""

    def __init__(self, handler) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0)

    def _trigger_server(self) -> None:
        # called once the server is bound, before start() returns
        assert isinstance(self.server, asyncio.Server), self.server
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
