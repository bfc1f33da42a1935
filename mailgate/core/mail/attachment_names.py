"""Core: attachment file names made safe to store (no path can escape its folder), and type <-> extension."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 200
_MAX_EXTENSION_BYTES = 16
# Windows refuses these as a name whatever the extension ("CON.txt", "com1.log"): prefix them.
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
                      | {f"{p}{n}" for p in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")})
_FORBIDDEN = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')  # Windows-forbidden and control characters
_SPACES = re.compile(r"\s+")
_EXTENSION = re.compile(r"\.[^\W_]{1,15}$")

_TYPES = {
    "application/pdf": ".pdf", "application/zip": ".zip", "application/x-zip-compressed": ".zip",
    "application/gzip": ".gz", "application/x-7z-compressed": ".7z", "application/x-rar-compressed": ".rar",
    "application/vnd.rar": ".rar", "application/x-tar": ".tar", "application/json": ".json",
    "application/xml": ".xml", "application/rtf": ".rtf", "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt", "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.ms-outlook": ".msg", "application/ms-tnef": ".dat", "application/vnd.ms-tnef": ".dat",
    "application/pkcs7-signature": ".p7s", "application/x-pkcs7-signature": ".p7s",
    "application/pgp-signature": ".asc", "application/pgp-keys": ".asc", "application/ics": ".ics",
    "message/rfc822": ".eml", "message/global": ".eml", "message/delivery-status": ".txt",
    "text/plain": ".txt", "text/html": ".html", "text/csv": ".csv", "text/calendar": ".ics",
    "text/vcard": ".vcf", "text/x-vcard": ".vcf", "text/xml": ".xml", "text/rfc822-headers": ".txt",
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/bmp": ".bmp",
    "image/webp": ".webp", "image/tiff": ".tif", "image/svg+xml": ".svg", "image/heic": ".heic",
    "audio/mpeg": ".mp3", "audio/wav": ".wav", "video/mp4": ".mp4", "video/quicktime": ".mov",
}
_BY_EXTENSION = {ext: ctype for ctype, ext in reversed(_TYPES.items())} | {
    ".jpeg": "image/jpeg", ".tiff": "image/tiff", ".htm": "text/html", ".log": "text/plain", ".eml": "message/rfc822",
    ".dat": "application/octet-stream", ".txt": "text/plain", ".ics": "text/calendar", ".xml": "application/xml",
}


def extension_for(content_type: str) -> str:
    """".pdf" for application/pdf; ".bin" for a type we do not know."""
    return _TYPES.get(content_type.lower(), ".bin")


def content_type_for(filename: str) -> str:
    """The content type a file name suggests (for files found inside winmail.dat); octet-stream if unknown."""
    match = _EXTENSION.search(filename.lower())
    return _BY_EXTENSION.get(match.group(0), "application/octet-stream") if match else "application/octet-stream"


def safe_filename(name: str, *, index: int, content_type: str) -> str:
    """A name that is only a file name: no directory, no `..`, no control or Windows-forbidden character,
    no leading dot, not a Windows device name, at most 200 bytes of UTF-8 with its extension kept.
    An empty result becomes "attachment-<index><extension of the content type>"."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = re.split(r"[/\\]", name)[-1]  # the last path component, whichever separator was used
    name = _SPACES.sub(" ", _FORBIDDEN.sub("_", name)).strip(" .")
    stem = name.split(".", 1)[0].strip(" ").upper()
    if stem in _RESERVED:
        name = "_" + name
    name = _cap(name)
    if not name.strip("._ "):
        return f"attachment-{index}{extension_for(content_type)}"
    return name


def unique(name: str, taken: set[str]) -> str:
    """`name`, or "stem-2.ext", "stem-3.ext"... when a name differing only in case is already taken;
    `taken` holds lower-cased names and gets the chosen one."""
    candidate, n = name, 1
    match = _EXTENSION.search(name)
    stem, ext = (name[:match.start()], match.group(0)) if match else (name, "")
    while candidate.lower() in taken:
        n += 1
        suffix = f"-{n}{ext}"
        candidate = _cut(stem, MAX_NAME_BYTES - len(suffix.encode("utf-8"))) + suffix
    taken.add(candidate.lower())
    return candidate


def _cap(name: str) -> str:
    """Cut to MAX_NAME_BYTES of UTF-8, keeping a short extension and whole characters."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    match = _EXTENSION.search(name)
    ext = match.group(0) if match and len(match.group(0).encode("utf-8")) <= _MAX_EXTENSION_BYTES else ""
    return _cut(name[:len(name) - len(ext)], MAX_NAME_BYTES - len(ext.encode("utf-8"))) + ext


def _cut(text: str, budget: int) -> str:
    return text.encode("utf-8")[:max(budget, 0)].decode("utf-8", errors="ignore").rstrip(" .")
