"""Wire formats of lienthong, sans-IO: bytes in, verified values out (docs/PROTOCOL.md)."""
