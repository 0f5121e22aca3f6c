"""`send` and `process` on a full disk (a filled tmpfs): one line naming the disk, exit 1,
no traceback; once space is freed the same commands work."""

from __future__ import annotations

import pytest

from lienthong.node.runtime import open_context
from tests.full_disk import small_disk
from tests.node.cli.cli_node import B, unit_with_a_letter
from tests.node.cli.test_cli import run


@pytest.mark.small_disk
async def test_send_and_process_on_a_full_disk_print_one_line_naming_it(tmp_path):
    """On a full disk, while the node runs, `send` (with an attachment) and `process` each
    print one line that names the data directory's disk and says to free space, exit 1 and
    show no traceback; so does `inbox` with no node running; after freeing space `send`
    and `process` succeed."""
    attachment = tmp_path / "bao-cao.pdf"
    attachment.write_bytes(b"%PDF-1.4 bao cao\n" * 20_000)
    with small_disk(tmp_path / "disk") as disk:
        data_dir = disk.path / "node"
        incoming = await unit_with_a_letter(data_dir, tmp_path)
        send = ("send", "--data-dir", str(data_dir), "--to", B, "--number", "12/SNV-VP")
        send += ("--subject", "Báo cáo tháng", "--file", str(attachment))
        send += ("--signer", "Nguyễn Văn A", "--position", "Giám đốc", "--place", "Tây Ninh")
        process = ("process", "--data-dir", str(data_dir), incoming, "--status", "accepted")
        running = await open_context(data_dir)  # as `lienthong run` holds the store open
        try:
            disk.fill()
            for command in (send, process):
                assert_one_line_naming_the_disk(run(*command), data_dir)
        finally:
            await running.store.close()
        # With no node running the store cannot even be opened (its WAL index cannot be
        # made): the same one line for a command that only reads.
        disk.fill()  # what the running node's store held open is free again
        assert_one_line_naming_the_disk(run("inbox", "--data-dir", str(data_dir)), data_dir)
        disk.free()
        for command in (send, process):
            result = run(*command)
            assert result.returncode == 0, result.stderr


def assert_one_line_naming_the_disk(result, data_dir) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("lienthong: error: the disk holding ")
    assert str(data_dir) in lines[0] and "is full" in lines[0] and "df -h" in lines[0]
