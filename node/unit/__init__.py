"""A unit's side of the node: documents, attachments, the delivery engine, the peer API it
serves, its relay client and the reports it sends to the centre."""
