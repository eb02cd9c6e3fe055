"""The documentation site (docs/, mkdocs.yml) builds with `mkdocs build --strict`, as
CI builds it: a broken link, a link to a heading that does not exist, or a page left out
of the nav fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).with_name("mkdocs")  # the test extra installs it


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # not -q: mkdocs 1.6 then drops the warnings that --strict counts, and passes
    return subprocess.run([str(MKDOCS), "build", "--strict", "-d", str(site)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_docs_build_strictly(tmp_path):
    done = build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    for page in (ROOT / "docs").glob("*.md"):  # every page is in the site
        name = "" if page.stem == "index" else page.stem + "/"
        assert (tmp_path / "site" / name / "index.html").is_file(), page.name
    assert (tmp_path / "site" / "screenshots" / "history.png").is_file()


def copy_of_the_docs(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    return tmp_path


def test_a_broken_link_or_anchor_or_a_page_left_out_fails_the_build(tmp_path):
    copy = copy_of_the_docs(tmp_path / "copy")
    replay = copy / "docs" / "replay.md"
    text = replay.read_text()
    for broken, said in [("[gone](no-such-page.md)", "no-such-page.md"),
                         ("[gone](matching.md#no-such-heading)", "no-such-heading")]:
        replay.write_text(text + f"\nSee {broken}.\n")
        done = build(copy, tmp_path / "site")
        assert done.returncode != 0 and said in done.stdout + done.stderr, broken
    replay.write_text(text)
    (copy / "docs" / "orphan.md").write_text("# A page nobody added to the nav\n")
    done = build(copy, tmp_path / "site")
    assert done.returncode != 0 and "orphan.md" in done.stdout + done.stderr
