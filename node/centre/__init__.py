"""The centre's side of the node: enrolment rules, the CA and issuer, the centre API, the
relay server and the reports it receives."""
