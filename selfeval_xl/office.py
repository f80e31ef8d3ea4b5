"""LibreOffice headless: the one place that runs soffice (PDF export, .xls/.ods → .xlsx).

Its exit code is not to be trusted (rc 0 on a failed load), so success is the output file
existing. Each call gets its own profile directory so concurrent runs do not collide.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def find_soffice() -> str | None:
    for name in ("soffice", "libreoffice"):
        exe = shutil.which(name)
        if exe:
            return exe
    for guess in (r"C:\Program Files\LibreOffice\program\soffice.exe", r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
                  "/Applications/LibreOffice.app/Contents/MacOS/soffice"):
        if Path(guess).exists():
            return guess
    return None


# The fresh profile of every soffice call turns off what would make LibreOffice reach outside
# the file it converts - defense in depth behind odf.py and ole_links.py, which take the links
# out of the file first: links are never updated while loading (Calc: 1 = never; Writer:
# 0 = never), linked images of untrusted documents are not loaded, formulas are not recalculated
# on load (so WEBSERVICE is not evaluated), macros never run. Measured (tests/test_office_links.py):
# it stops a .docx's linked picture being fetched on import; it does NOT stop a .doc's or an
# .ods's (the binary and ODF importers load them regardless - hence ole_links and odf).
_HARDENED = {
    ("org.openoffice.Office.Calc", "Content/Update", "Link"): ("int", "1"),
    ("org.openoffice.Office.Writer", "Content/Update", "Link"): ("int", "0"),
    ("org.openoffice.Office.Common", "Security/Scripting", "BlockUntrustedRefererLinks"): ("boolean", "true"),
    ("org.openoffice.Office.Common", "Security/Scripting", "MacroSecurityLevel"): ("int", "3"),
    ("org.openoffice.Office.Common", "Security/Scripting", "DisableMacrosExecution"): ("boolean", "true"),
    ("org.openoffice.Office.Calc", "Formula/Load", "OOXMLRecalcMode"): ("int", "1"),
    ("org.openoffice.Office.Calc", "Formula/Load", "ODFRecalcMode"): ("int", "1"),
}


def _hardened_profile(profile: Path) -> None:
    """Write ``_HARDENED`` as the profile's registrymodifications.xcu."""
    items = "".join(f'<item oor:path="/{component}/{path}"><prop oor:name="{name}" oor:op="fuse">'
                    f'<value>{value}</value></prop></item>'
                    for (component, path, name), (_, value) in _HARDENED.items())
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"{items}</oor:items>", encoding="utf-8")


def convert(sources: list[Path], fmt: str, outdir: Path, timeout: float = 300,
            hardened: bool = True) -> dict[Path, Path | None]:
    """Convert several files in one soffice call (much faster than one call each).

    ``fmt`` is a LibreOffice filter spec such as ``pdf`` or ``xlsx:Calc MS Excel 2007 XML``.
    Returns source -> output path, or None where LibreOffice produced nothing. ``hardened``
    (the default; False only for the tests that show what it prevents): see ``_HARDENED``.
    """
    exe = find_soffice()
    if exe is None:
        raise FileNotFoundError("未安装 LibreOffice（soffice），无法转换")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ext = fmt.split(":", 1)[0]
    profile = Path(tempfile.mkdtemp(prefix="selfeval-lo-"))
    if hardened:
        _hardened_profile(profile)
    try:
        cmd = [exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
               "--convert-to", fmt, "--outdir", str(outdir), *map(str, sources)]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, env={**os.environ, "HOME": str(profile)})
        except subprocess.TimeoutExpired:
            pass
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    out = {}
    for src in sources:
        dst = outdir / f"{Path(src).stem}.{ext}"
        out[Path(src)] = dst if dst.exists() and dst.stat().st_size > 0 else None
    return out


def to_pdf(docx_paths: list[Path], outdir: Path, timeout: float = 600) -> dict[Path, Path | None]:
    """Convert reports to PDF with LibreOffice headless, several per soffice call.

    Returns docx -> pdf (None where LibreOffice produced nothing). Files whose names would
    collide in ``outdir`` (same stem from different folders) are converted separately and
    given a ``(2)``-style suffix. Raises FileNotFoundError when LibreOffice is not installed.
    """
    outdir = Path(outdir)
    paths = list(dict.fromkeys(Path(p) for p in docx_paths))
    first: list[Path] = []
    later: list[Path] = []
    seen: set[str] = set()
    for p in paths:
        (later if p.stem in seen else first).append(p)
        seen.add(p.stem)
    result: dict[Path, Path | None] = {}
    if first:
        result.update(convert(first, "pdf", outdir, timeout=timeout))
    for p in later:
        tmp = Path(tempfile.mkdtemp(prefix="selfeval-pdf-"))
        try:
            out = convert([p], "pdf", tmp, timeout=timeout).get(p)
            if out is None:
                result[p] = None
                continue
            n = 2
            while (outdir / f"{p.stem} ({n}).pdf").exists():
                n += 1
            dst = outdir / f"{p.stem} ({n}).pdf"
            shutil.move(str(out), dst)
            result[p] = dst
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {Path(p): result.get(Path(p)) for p in docx_paths}
