"""The docs' convention: an ```sh block is run, as written, by the test suite; an example with
placeholders (a hostname of yours, <id>) is a ```console block. This keeps the convention true."""
import re

from conftest import REPO

# Each page whose sh blocks run, and the test that runs them.
RUN_BY = {
    "docs/admin-cli.md": "test_admin_cli.py::test_the_walkthrough_runs_verbatim_and_the_registry_agrees, and test_walkthroughs.py",
    "docs/getting-started.md": "test_getting_started.py::test_the_bare_metal_path_runs_verbatim, and test_walkthroughs.py",
    "docs/operations.md": "test_operations.py::test_the_backup_then_migrate_block_runs_as_written",
    "README.md": "scripts/test itself (the Quick start's second command) and test_getting_started (start-dev)",
}


def test_every_sh_block_is_on_a_page_whose_blocks_run():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    unrun = [str(page.relative_to(REPO)) for page in pages
             if re.search(r"^```sh$", page.read_text(), flags=re.M) and str(page.relative_to(REPO)) not in RUN_BY]
    assert unrun == [], f"sh blocks that no test runs (make them run, or mark examples console): {unrun}"
