"""Keys, signatures, encryption and X.509 issuance: pure functions over bytes and files."""
