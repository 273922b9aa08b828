"""Desired-state loading: every kind of bad input is a located error, before any API call."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from reconciler.core.desired import load_desired
from reconciler.core.desired.schema import schema
from reconciler.core.model import MissingUsers, UserState
from reconciler.core.settings import Settings
from reconciler.errors import DesiredStateError
from tests.conftest import ROOT, SHIPPED_DESIRED, write


def findings(folder: Path, settings: Settings | None = None) -> list[str]:
    with pytest.raises(DesiredStateError) as info:
        load_desired(folder, settings)
    return [str(f) for f in info.value.findings]


def one(folder: Path) -> str:
    found = findings(folder)
    assert len(found) == 1, found
    return found[0]


def test_shipped_example_is_valid() -> None:
    state = load_desired(SHIPPED_DESIRED)
    emails = [e.email for e in state.entries]
    assert "Jane.Doe@example.com" in emails
    assert state.policy.max_changes == 10
    assert "breakglass.admin@example.com" in state.policy.protected
    assert state.digest.startswith("sha256:")


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    on_disk = json.loads((ROOT / "schemas" / "desired-state.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(on_disk)
    assert schema() == on_disk


def test_entries_carry_source_lines_defaults_and_fields(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """\
users:
  - email: Jane.Doe@Example.com
    reason: Left
    ticket: HR-1
    effective: 2026-12-01T17:00:00+01:00

  - id: 6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0
    state: active
""",
    )
    state = load_desired(tmp_path)
    first, second = state.entries
    assert (first.source.line, second.source.line) == (2, 7)
    assert first.state is UserState.INACTIVE and second.state is UserState.ACTIVE
    assert first.email_key == "jane.doe@example.com"
    assert first.effective is not None and first.effective.utcoffset() is not None
    assert first.effective.isoformat() == "2026-12-01T17:00:00+01:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("users:\n  - email: a@example.com\n    colour: red\n", "a.yaml:2: users[0]: unknown key 'colour'"),
        ("users:\n  - email: not-an-email\n", "a.yaml:2: users[0].email: 'not-an-email' is not a valid email"),
        (
            "users:\n  - email: a@example.com\n    state: disabled\n",
            "a.yaml:3: users[0].state: 'disabled' is not one of: inactive, active",
        ),
        ("users:\n  - email: a@example.com\n    state: no\n", "quote the value"),
        ("users:\n  - reason: x\n", "a.yaml:2: users[0]: an entry needs an 'email' or an 'id'"),
        ("users:\n  - id: 6A3B2C1D-0E9F-4A8B-B7C6-D5E4F3A2B1C0\n", "is not a Genesys user id (a lower-case UUID)"),
        (
            "users:\n  - email: a@example.com\n    effective: 2026-12-01T17:00:00\n",
            "a.yaml:3: users[0].effective: '2026-12-01T17:00:00' is not an ISO 8601 instant with a time zone",
        ),
        ("users: {email: a@example.com}\n", "a.yaml:1: users: expected array, got a mapping"),
        ("users:\n  - email: a@example.com\n  - email: [\n", "a.yaml:4: invalid YAML"),
        ("people:\n  - email: a@example.com\n", "a.yaml:1: file: unknown key 'people'"),
        (
            "users:\n  - email: a@example.com\n    email: b@example.com\n",
            "a.yaml:3: duplicate key 'email' (first at line 2)",
        ),
        ("", "a.yaml: file is empty"),
        ("a: &x [1, 2]\nb: *x\n", "a.yaml:1: YAML aliases of lists or mappings are not allowed"),
        ("--- {users: []}\n--- {users: []}\n", "invalid YAML"),
        ("policy:\n  max_changes: -1\n", "a.yaml:2: policy.max_changes"),
        ("policy:\n  missing_users: ignore\n", "'ignore' is not one of: error, warn"),
        ("policy:\n  protected: [someone]\n", "'someone' is neither an email address nor a Genesys user id"),
        # Characters YAML refuses: the line is named, not a position in PyYAML's words.
        (
            "users:\n  - email: a@example.com\n    reason: x\x01y\n",
            "a.yaml:3: invalid YAML: unacceptable character #x0001",
        ),
        (
            "users:\n  - email: a@example.com\n    reason: \uffff\n",
            "a.yaml:3: invalid YAML: unacceptable character #xffff",
        ),
        ("users:\n  - email: a@example.com\n# \ufffe\n", "a.yaml:3: invalid YAML: unacceptable character #xfffe"),
        # Scalars PyYAML's constructors cannot make: a located error, never "unexpected ValueError".
        ("policy:\n  max_changes: " + "1" * 5000 + "\n", "a.yaml:2: a number of 5000 digits"),
        ("policy:\n  max_changes: 1_" + "0" * 5000 + "\n", "a.yaml:2: a number of 5001 digits"),
        ("policy:\n  max_changes: !!int ''\n", "a.yaml:2: '' cannot be read as !!int"),
        ("policy:\n  max_changes: !!int 0x\n", "a.yaml:2: '0x' cannot be read as !!int"),
        ("policy:\n  max_changes_percent: !!float abc\n", "a.yaml:2: 'abc' cannot be read as !!float"),
        ("users:\n  - email: a@example.com\n    state: !!bool maybe\n", "a.yaml:3: 'maybe' cannot be read as !!bool"),
    ],
)
def test_bad_files_are_located_errors(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "a.yaml", text)
    assert expected in one(tmp_path)


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    write(tmp_path, "bomb.yaml", "\n".join(lines) + "\nusers: []\n")
    assert "aliases of lists or mappings are not allowed" in one(tmp_path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "deep.yaml", "users: " + "[" * 50 + "]" * 50 + "\n")
    assert "nested more than" in one(tmp_path)


def test_non_utf8_file_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(b"users:\n  - email: a@example.com\n    reason: caf\xe9\n")
    assert one(tmp_path).endswith("latin1.yaml:3: not valid UTF-8 (byte 0xe9 at offset 47)")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "bom.yaml").write_bytes("\ufeffusers:\n  - email: a@example.com\n".encode())
    assert load_desired(tmp_path).entries[0].email == "a@example.com"


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    write(tmp_path, "big.yaml", "users:\n" + "  - email: a@example.com\n" * 100)
    message = one_with(tmp_path, Settings(max_file_bytes=1000))
    assert "over the 1,000-byte limit" in message


def one_with(folder: Path, settings: Settings) -> str:
    found = findings(folder, settings)
    assert len(found) == 1
    return found[0]


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    assert "no desired-state files" in one(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    assert "no such folder" in one(tmp_path / "nope")


def test_symlink_loop_is_reported_not_followed_forever(tmp_path: Path) -> None:
    write(tmp_path, "sub/a.yaml", "users:\n  - email: a@example.com\n")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    assert "symlink loop" in one(tmp_path)


def test_dangling_symlink_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "users:\n  - email: a@example.com\n")
    os.symlink(tmp_path / "missing.yaml", tmp_path / "gone.yaml")
    assert "gone.yaml: dangling symlink" in one(tmp_path)


def test_symlink_resolving_outside_the_folder_is_refused_unread(tmp_path: Path) -> None:
    desired = tmp_path / "desired"
    write(desired, "a.yaml", "users:\n  - email: a@example.com\n")
    # Malformed on purpose: if it were read, its text would surface in the error message.
    write(tmp_path, "private/key.yaml", "users: [SECRET-CONTENT-4711\n")
    os.symlink(tmp_path / "private" / "key.yaml", desired / "leak.yaml")
    os.symlink(tmp_path / "private", desired / "elsewhere")
    found = findings(desired)
    assert len(found) == 2, found
    assert any("leak.yaml" in f and "outside the desired-state folder" in f for f in found)
    assert any("elsewhere" in f and "outside the desired-state folder" in f for f in found)
    assert not any("SECRET-CONTENT" in f for f in found)


def test_symlink_within_the_folder_is_followed(tmp_path: Path) -> None:
    write(tmp_path, "real/a.yaml", "users:\n  - email: a@example.com\n")
    os.symlink(Path("real") / "a.yaml", tmp_path / "b.yml")  # relative, inside: read (and declares a twice)
    assert "declared twice" in " ".join(findings(tmp_path))


def test_files_in_subfolders_are_read_and_hidden_ones_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a/b/c.yml", "users:\n  - email: a@example.com\n")
    write(tmp_path, ".git/x.yaml", "not: [valid")
    write(tmp_path, "notes.txt", "ignored")
    assert [e.email for e in load_desired(tmp_path).entries] == ["a@example.com"]


def test_conflicting_states_across_files_name_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "users:\n  - email: Jane@example.com\n")
    write(tmp_path, "b.yaml", "users:\n  - email: jane@EXAMPLE.com\n    state: active\n")
    message = one(tmp_path)
    assert "b.yaml:2:" in message
    assert "declared twice with different states: active here, inactive at" in message
    assert "a.yaml:2" in message


def test_exact_duplicates_are_errors_too(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        "users:\n  - id: 6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0\n  - id: 6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0\n",
    )
    assert "a.yaml:3: id 6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0 declared twice: also at" in one(tmp_path)


def test_two_policy_blocks_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "policy:\n  max_changes: 5\n")
    write(tmp_path, "b.yaml", "policy:\n  max_changes: 50\n")
    assert "b.yaml:1: a second policy block" in one(tmp_path)


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "users:\n  - email: bad\n")
    write(tmp_path, "b.yaml", "users: [\n")
    (tmp_path / "c.yaml").write_bytes(b"\xff")
    assert len(findings(tmp_path)) == 3


def test_policy_block_values(tmp_path: Path) -> None:
    write(
        tmp_path,
        "p.yaml",
        """\
policy:
  protected: [Admin@Example.com, 6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0]
  max_changes: 3
  max_changes_percent: 2.5
  missing_users: warn
""",
    )
    policy = load_desired(tmp_path).policy
    assert policy.protected == {"admin@example.com", "6a3b2c1d-0e9f-4a8b-b7c6-d5e4f3a2b1c0"}
    assert (policy.max_changes, policy.max_changes_percent, policy.missing_users) == (3, 2.5, MissingUsers.WARN)
    assert policy.is_protected(None, "ADMIN@example.com")


def test_digest_depends_on_content_and_path_only(tmp_path: Path) -> None:
    write(tmp_path / "one", "a.yaml", "users:\n  - email: a@example.com\n")
    write(tmp_path / "two", "a.yaml", "users:\n  - email: a@example.com\n")
    assert load_desired(tmp_path / "one").digest == load_desired(tmp_path / "two").digest
    write(tmp_path / "two", "a.yaml", "users:\n  - email: b@example.com\n")
    assert load_desired(tmp_path / "one").digest != load_desired(tmp_path / "two").digest


def test_schema_findings_come_in_document_order_past_ten_entries(tmp_path: Path) -> None:
    # Sorted as text, users[10] came before users[2]: a reviewer reading down the file got lines 2, 3, 12, 13, 4...
    write(tmp_path, "a.yaml", "users:\n" + "".join(f"  - email: bad{i}\n" for i in range(12)))
    assert [int(f.split(":")[1]) for f in findings(tmp_path)] == list(range(2, 14))
