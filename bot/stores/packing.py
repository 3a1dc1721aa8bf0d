"""Redis commands packed by hiredis in one call, not argument by argument in Python.

redis-py's hiredis serializer still walks every argument in Python (a memoryview check, an
encode call and a tuple) before hiredis packs them: 17 µs for the budget's 32-argument EVALSHA
and 3.8 µs for a 6-argument SET (a micro-benchmark here). hiredis takes str, bytes, int and
float itself, str as UTF-8 and a float as `repr` writes it, exactly as redis-py's encoder does:
packing the arguments as given costs 2.3 µs and 0.6 µs. Anything else (a bool, None, a
memoryview) and a command name with a space in it go redis-py's way, which packs them or raises
its own error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    import hiredis

Pack = Callable[..., list[bytes]]


class DirectPacker:
    """A connection's command packer (`pack(*args)`), with `standard` for what hiredis refuses."""

    def __init__(self, standard: Pack) -> None:
        self._standard = standard

    def pack(self, *args: Any) -> list[bytes]:
        head = args[0]
        if (isinstance(head, str) and " " in head) or (isinstance(head, bytes) and b" " in head):
            return self._standard(*args)  # "CLIENT SETINFO": redis-py splits the name
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return self._standard(*args)


def install(connection: AbstractConnection) -> None:
    """Give `connection` the direct packer when it packs with hiredis and text is strict UTF-8
    (what hiredis writes); otherwise it keeps redis-py's."""
    encoder = connection.encoder
    current = connection._command_packer  # redis-py's hiredis serializer; None without hiredis
    if (
        current is None
        or encoder.encoding.lower().replace("-", "") != "utf8"
        or encoder.encoding_errors != "strict"
    ):
        return
    connection._command_packer = DirectPacker(current.pack)  # type: ignore[assignment]
