"""SOAP transport only: bytes in, verified and validated XML to a spyne service,
domain call, XML out, signed. Business rules live in the domain packages."""
