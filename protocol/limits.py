"""Every limit protocol/ enforces on untrusted bytes, named, with the reason beside it."""

# Whole messages. Attachments travel as separate blobs, so an envelope holds
# metadata and sealed keys only: 1 MiB is ~10x the largest plausible body
# (1,024 recipients x 80-byte sealed keys + 64 KiB content summary).
MAX_ENVELOPE_BYTES = 1024 * 1024
# A status is a few short fields; 16 KiB leaves room for a long reason.
MAX_STATUS_BYTES = 16 * 1024
# A certificate is two keys, a name and a few endpoints.
MAX_CERTIFICATE_BYTES = 8 * 1024
MAX_REGISTRATION_BYTES = 8 * 1024
# 10,000 units x ~600 bytes per certificate is ~6 MiB; 32 MiB is national scale with headroom.
MAX_DIRECTORY_BYTES = 32 * 1024 * 1024

# Counts.
MAX_RECIPIENTS = 1024  # a province has 26 units; a national fan-out is under a thousand
MAX_ATTACHMENTS = 256
MAX_LIST_ITEMS = 256  # addressees, distribution list, endpoints, relays
MAX_DIRECTORY_UNITS = 100_000
MAX_REVOKED = 100_000
MAX_MAP_KEYS = 64  # no message map has more than ~25 fields

# Strings (characters) and byte strings.
MAX_SHORT_TEXT = 256  # names, positions, places, notations
MAX_SUBJECT = 2_000  # trích yếu: a paragraph at most
MAX_CONTENT = 64 * 1024  # optional content summary of a document
MAX_REASON = 4_000  # reason of a rejection or a refusal
MAX_URL = 512
MAX_ATTACHMENT_SIZE = 64 * 1024**3  # declared plaintext size of one attachment: 64 GiB
# msgpack's own nesting depth is bounded by its C stack (1,024 levels); our
# schemas nest at most 4 levels, and every container is type-checked.
MAX_STR_BYTES = MAX_DIRECTORY_BYTES  # for the Unpacker: no string longer than the message
