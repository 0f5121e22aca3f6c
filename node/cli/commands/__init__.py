"""The CLI's commands, one module per group; each takes the parsed arguments."""
