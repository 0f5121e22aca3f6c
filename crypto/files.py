"""Files that hold keys or plaintext: created readable by their owner only, checked, and synced.

Every such file is created private (never made private after the bytes are in it, which
would leave a moment where others could open it), and every such folder likewise. On POSIX
that is mode 0600 (0700 for a folder). On Windows mode bits mean nothing (every file reads
0o666), so the file or folder is created with a protected access list naming only its owner,
SYSTEM and the Administrators (as OpenSSH for Windows requires of a private key), through
the Win32 security functions by ctypes; `exposure` checks either way and names the command
that fixes it (chmod, or icacls). `sync_directory` makes a rename durable where the
platform can (Windows cannot open a folder to fsync it; NTFS journals the rename itself).
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

WINDOWS = sys.platform == "win32"

PRIVATE_FILE_MODE = 0o600  # owner reads and writes; nobody else anything
PRIVATE_DIR_MODE = 0o700  # owner lists, enters and creates; nobody else anything
# Group and other permission bits: any of them set means another user may read the file.
INSECURE_MODE_BITS = 0o077

# Who may hold an access entry on a private file on Windows, besides the owner: the
# accounts that can take any file anyway (as root can on POSIX).
SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"
OWNER_RIGHTS_SID = "S-1-3-4"
# SDDL's short names for well-known accounts, as Windows writes them in a descriptor
# (learn.microsoft.com "SID strings"); an access entry is compared and named by its SID.
SDDL_ALIASES = {
    "AN": "S-1-5-7",  # anonymous
    "AU": "S-1-5-11",  # authenticated users
    "BA": ADMINISTRATORS_SID,
    "BG": "S-1-5-32-546",  # guests
    "BO": "S-1-5-32-551",  # backup operators
    "BU": "S-1-5-32-545",  # users
    "CO": "S-1-3-0",  # creator owner
    "CG": "S-1-3-1",  # creator group
    "IU": "S-1-5-4",  # interactive
    "LS": "S-1-5-19",  # local service
    "NS": "S-1-5-20",  # network service
    "NU": "S-1-5-2",  # network
    "OW": OWNER_RIGHTS_SID,
    "PU": "S-1-5-32-547",  # power users
    "RD": "S-1-5-32-555",  # remote desktop users
    "SU": "S-1-5-6",  # service
    "SY": SYSTEM_SID,
    "WD": "S-1-1-0",  # everyone
    "AC": "S-1-15-2-1",  # all application packages
}
# Access entry types that grant (plain, object, callback, callback object).
_ALLOW_TYPES = {"A", "OA", "XA", "ZA"}
# The parts of an SDDL descriptor, each a letter and a colon: owner, group, DACL, SACL.
_SDDL_PARTS = ("O:", "G:", "D:", "S:")


@dataclass(frozen=True, slots=True)
class Exposure:
    """Why a private file is not private (`finding`), and the command that fixes it."""

    finding: str
    fix: str


def create_private(path: Path, *, replace: bool = False) -> BinaryIO:
    """A new file at `path`, open for writing, that only its owner can read.

    An existing file is refused (FileExistsError), or with replace=True removed first:
    opening an existing file keeps whatever access it had, so it is never reused.
    """
    if replace:
        Path(path).unlink(missing_ok=True)
    if WINDOWS:
        return _windows.create_private(Path(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    return os.fdopen(fd, "wb")


def make_private_dir(path: Path, *, parents: bool = False) -> None:
    """Create the folder `path` private to its owner, and with parents=True each missing
    folder above it likewise (pathlib would give those the default access); folders already
    there are left as they are."""
    path = Path(path)
    missing = [path]
    if parents:
        while not missing[-1].parent.exists() and missing[-1].parent != missing[-1]:
            missing.append(missing[-1].parent)
    for folder in reversed(missing):
        if WINDOWS:
            _windows.make_private_dir(folder)
        else:
            folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)


def exposure(path: Path) -> Exposure | None:
    """None when only the owner (and, on Windows, SYSTEM and the Administrators) can open
    `path`; else what lets others in and the command that shuts them out."""
    if WINDOWS:
        sddl = _windows.security_descriptor(Path(path))
        others = acl_others(sddl, _windows.user_sid())
        if not others:
            return None
        return Exposure(
            f"its access list lets {', '.join(others)} in", icacls_fix(path, others, sddl)
        )
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & INSECURE_MODE_BITS:
        return Exposure(f"mode {mode:04o}", f"chmod 600 {path}")
    return None


def sync_directory(path: Path) -> None:
    """fsync the folder `path`, so that a file created or renamed in it survives a power cut;
    nothing on Windows, which cannot open a folder as a file (NTFS journals names itself)."""
    if WINDOWS:
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- Windows access lists, as text (pure: tested on every platform) ----------------------------


def private_sddl(user_sid: str, *, folder: bool = False) -> str:
    """The security descriptor a private file (or folder, whose entries its files inherit)
    is created with: owned by the user; a protected list (nothing inherited from above)
    granting full control to the user, SYSTEM and the Administrators, and nobody else."""
    inherit = "OICI" if folder else ""
    entries = "".join(f"(A;{inherit};FA;;;{sid})" for sid in (user_sid, "SY", "BA"))
    return f"O:{user_sid}D:P{entries}"


def _sid(name: str) -> str:
    return SDDL_ALIASES.get(name, name)


def sddl_parts(sddl: str) -> dict[str, str]:
    """An SDDL descriptor cut into its parts: {"O": owner, "D": flags and entries, ...}.
    A part starts at its letter and colon outside parentheses (SIDs hold no colon)."""
    parts: dict[str, str] = {}
    depth, start, key = 0, 0, ""
    for i, char in enumerate(sddl):
        depth += (char == "(") - (char == ")")
        if depth == 0 and sddl[i : i + 2] in _SDDL_PARTS:
            if key:
                parts[key] = sddl[start:i]
            key, start = sddl[i], i + 2
    if key:
        parts[key] = sddl[start:]
    return parts


def _entries(dacl: str) -> tuple[str, list[str]]:
    """A DACL part's flags (P, AI, NO_ACCESS_CONTROL) and its entries without parentheses."""
    flags, _, rest = dacl.partition("(")
    rest = "(" + rest if rest else ""
    entries, depth, start = [], 0, 0
    for i, char in enumerate(rest):
        if char == "(":
            depth += 1
            if depth == 1:
                start = i + 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                entries.append(rest[start:i])
    return flags, entries


def acl_others(sddl: str, user_sid: str) -> list[str]:
    """The SIDs other than the owner, the user, SYSTEM and the Administrators that an SDDL
    descriptor's access list lets open the object ("S-1-1-0" for everyone under a null list);
    entries that only pass to children (IO) do not count."""
    parts = sddl_parts(sddl)
    trusted = {_sid(user_sid), SYSTEM_SID, ADMINISTRATORS_SID, OWNER_RIGHTS_SID}
    if parts.get("O"):
        trusted.add(_sid(parts["O"]))
    if "D" not in parts or "NO_ACCESS_CONTROL" in _entries(parts["D"])[0]:
        return [SDDL_ALIASES["WD"]]  # no list at all: everyone may do anything
    others: list[str] = []
    for entry in _entries(parts["D"])[1]:
        fields = entry.split(";")
        flags = [fields[1][i : i + 2] for i in range(0, len(fields[1]), 2)] if fields else []
        if len(fields) < 6 or fields[0] not in _ALLOW_TYPES or "IO" in flags:
            continue
        sid = _sid(fields[5])
        if sid not in trusted and sid not in others:
            others.append(sid)
    return others


def icacls_fix(path: Path, others: list[str], sddl: str = "") -> str:
    """The icacls commands that make `path` private: drop inherited entries, grant the owner
    full control, then remove the grants named in `others` that are the file's own."""
    owner = sddl_parts(sddl).get("O")
    grant = f"*{_sid(owner)}:F" if owner else "%USERNAME%:F"
    fix = f'icacls "{path}" /inheritance:r /grant:r {grant}'
    if others:
        fix += f', then: icacls "{path}" /remove:g ' + " ".join(f"*{sid}" for sid in others)
    return fix


class _Windows:
    """The Win32 calls behind the functions above (ctypes; loaded only on Windows)."""

    GENERIC_WRITE = 0x40000000
    FILE_SHARE_ALL = 0x1 | 0x2 | 0x4  # read, write, delete: renaming it open works as on POSIX
    CREATE_NEW = 1
    FILE_ATTRIBUTE_NORMAL = 0x80
    SDDL_REVISION_1 = 1
    SE_FILE_OBJECT = 1
    OWNER_SECURITY_INFORMATION = 0x1
    DACL_SECURITY_INFORMATION = 0x4
    TOKEN_QUERY = 0x8
    TOKEN_USER = 1  # the TOKEN_INFORMATION_CLASS value

    def __init__(self) -> None:
        import ctypes
        from ctypes import wintypes

        self.ctypes, self.wintypes = ctypes, wintypes
        self.kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        self.advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]
        self.kernel32.CreateFileW.restype = wintypes.HANDLE
        self.kernel32.CreateFileW.argtypes = [
            wintypes.LPCWSTR,
            wintypes.DWORD,
            wintypes.DWORD,
            ctypes.c_void_p,
            wintypes.DWORD,
            wintypes.DWORD,
            wintypes.HANDLE,
        ]
        self.kernel32.CreateDirectoryW.argtypes = [wintypes.LPCWSTR, ctypes.c_void_p]
        self.kernel32.LocalFree.argtypes = [ctypes.c_void_p]
        self.kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
        self.kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        self.advapi32.OpenProcessToken.argtypes = [
            wintypes.HANDLE,
            wintypes.DWORD,
            ctypes.POINTER(wintypes.HANDLE),
        ]
        self.advapi32.GetTokenInformation.argtypes = [
            wintypes.HANDLE,
            ctypes.c_int,
            ctypes.c_void_p,
            wintypes.DWORD,
            ctypes.POINTER(wintypes.DWORD),
        ]
        self.advapi32.ConvertSidToStringSidW.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(wintypes.LPWSTR),
        ]
        self.advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.argtypes = [
            wintypes.LPCWSTR,
            wintypes.DWORD,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(wintypes.ULONG),
        ]
        self.advapi32.GetNamedSecurityInfoW.restype = wintypes.DWORD
        self.advapi32.GetNamedSecurityInfoW.argtypes = [
            wintypes.LPCWSTR,
            ctypes.c_int,
            wintypes.DWORD,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_void_p),
        ]
        self.advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW.argtypes = [
            ctypes.c_void_p,
            wintypes.DWORD,
            wintypes.DWORD,
            ctypes.POINTER(wintypes.LPWSTR),
            ctypes.POINTER(wintypes.ULONG),
        ]
        self._user_sid: str | None = None

    def _fail(self, what: object) -> OSError:
        error = self.ctypes.get_last_error()
        return OSError(None, self.ctypes.FormatError(error), str(what), error)

    def user_sid(self) -> str:
        """The SID of the account this process runs as (S-1-5-21-...)."""
        if self._user_sid is not None:
            return self._user_sid
        ctypes, wintypes = self.ctypes, self.wintypes
        token = wintypes.HANDLE()
        if not self.advapi32.OpenProcessToken(
            self.kernel32.GetCurrentProcess(), self.TOKEN_QUERY, ctypes.byref(token)
        ):
            raise self._fail("this process's token")
        try:
            needed = wintypes.DWORD()
            self.advapi32.GetTokenInformation(token, self.TOKEN_USER, None, 0, ctypes.byref(needed))
            buffer = ctypes.create_string_buffer(needed.value)
            if not self.advapi32.GetTokenInformation(
                token, self.TOKEN_USER, buffer, needed, ctypes.byref(needed)
            ):
                raise self._fail("this process's user")
            sid_pointer = ctypes.c_void_p.from_buffer(buffer).value  # TOKEN_USER.User.Sid
            text = wintypes.LPWSTR()
            if not self.advapi32.ConvertSidToStringSidW(sid_pointer, ctypes.byref(text)):
                raise self._fail("this process's user")
            try:
                self._user_sid = str(text.value)
            finally:
                self.kernel32.LocalFree(text)
        finally:
            self.kernel32.CloseHandle(token)
        return self._user_sid

    def _attributes(self, sddl: str) -> tuple[object, object]:
        """SECURITY_ATTRIBUTES holding the descriptor `sddl`, and the descriptor to LocalFree."""
        ctypes, wintypes = self.ctypes, self.wintypes

        class SecurityAttributes(ctypes.Structure):
            _fields_ = (
                ("nLength", wintypes.DWORD),
                ("lpSecurityDescriptor", ctypes.c_void_p),
                ("bInheritHandle", wintypes.BOOL),
            )

        descriptor = ctypes.c_void_p()
        if not self.advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl, self.SDDL_REVISION_1, ctypes.byref(descriptor), None
        ):
            raise self._fail(sddl)
        attributes = SecurityAttributes(ctypes.sizeof(SecurityAttributes), descriptor, False)
        return attributes, descriptor

    def create_private(self, path: Path) -> BinaryIO:
        import msvcrt

        attributes, descriptor = self._attributes(private_sddl(self.user_sid()))
        try:
            handle = self.kernel32.CreateFileW(
                str(path),
                self.GENERIC_WRITE,
                self.FILE_SHARE_ALL,
                self.ctypes.byref(attributes),
                self.CREATE_NEW,
                self.FILE_ATTRIBUTE_NORMAL,
                None,
            )
            if handle in (None, self.wintypes.HANDLE(-1).value):
                raise self._fail(path)  # ERROR_FILE_EXISTS becomes FileExistsError
        finally:
            self.kernel32.LocalFree(descriptor)
        try:
            fd = msvcrt.open_osfhandle(handle, os.O_WRONLY)  # type: ignore[attr-defined]
        except OSError:
            self.kernel32.CloseHandle(handle)
            raise
        return os.fdopen(fd, "wb")

    def make_private_dir(self, path: Path) -> None:
        attributes, descriptor = self._attributes(private_sddl(self.user_sid(), folder=True))
        try:
            if not self.kernel32.CreateDirectoryW(str(path), self.ctypes.byref(attributes)):
                error = self._fail(path)
                if not (isinstance(error, FileExistsError) and path.is_dir()):
                    raise error
        finally:
            self.kernel32.LocalFree(descriptor)

    def security_descriptor(self, path: Path) -> str:
        """The owner and access list of `path` as SDDL text."""
        ctypes, wintypes = self.ctypes, self.wintypes
        wanted = self.OWNER_SECURITY_INFORMATION | self.DACL_SECURITY_INFORMATION
        owner, dacl, descriptor = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        error = self.advapi32.GetNamedSecurityInfoW(
            str(path),
            self.SE_FILE_OBJECT,
            wanted,
            ctypes.byref(owner),
            None,
            ctypes.byref(dacl),
            None,
            ctypes.byref(descriptor),
        )
        if error:
            raise OSError(None, ctypes.FormatError(error), str(path), error)
        try:
            text = wintypes.LPWSTR()
            if not self.advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW(
                descriptor, self.SDDL_REVISION_1, wanted, ctypes.byref(text), None
            ):
                raise self._fail(path)
            try:
                return str(text.value)
            finally:
                self.kernel32.LocalFree(text)
        finally:
            self.kernel32.LocalFree(descriptor)


_windows: _Windows = _Windows() if WINDOWS else None  # type: ignore[assignment]
