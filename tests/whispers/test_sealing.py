"""The whisper seal (stack/sealing.py) and its setting, WHISPER_KEYS."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from stack.launcher import ensure_whisper_key
from stack.sealing import SealBroken, WhisperSeal, whisper_seal
from stack.settings import Settings, load_settings
from tests.support.whispers import OTHER_WHISPER_KEY, WHISPER_KEY, WHISPER_KEYS

TEXT = "the key is under the third stone ✨"
WID = "whisper-1-2-0123456789abcdef"


def test_it_opens_only_for_its_whisper_and_recipient() -> None:
    seal = WhisperSeal([WHISPER_KEY])
    sealed = seal.seal(TEXT, whisper_id=WID, recipient_id=3)
    assert TEXT not in sealed and "third stone" not in base64.b64decode(sealed.split(".")[2]).decode(
        errors="replace"
    )
    assert seal.open(sealed, whisper_id=WID, recipient_id=3) == TEXT
    for whisper_id, recipient_id in ((WID.replace("-2-", "-9-"), 3), (WID, 4)):
        with pytest.raises(SealBroken):
            seal.open(sealed, whisper_id=whisper_id, recipient_id=recipient_id)
    with pytest.raises(SealBroken):
        seal.open(sealed[:-4] + "AAAA", whisper_id=WID, recipient_id=3)
    with pytest.raises(SealBroken):
        seal.open("plain words", whisper_id=WID, recipient_id=3)


def test_rotation_the_first_key_seals_every_key_opens() -> None:
    old = WhisperSeal([WHISPER_KEY]).seal(TEXT, whisper_id=WID, recipient_id=3)
    rotated = WhisperSeal([OTHER_WHISPER_KEY, WHISPER_KEY])
    assert rotated.open(old, whisper_id=WID, recipient_id=3) == TEXT
    new = rotated.seal(TEXT, whisper_id=WID, recipient_id=3)
    with pytest.raises(SealBroken, match="unknown whisper key"):
        WhisperSeal([WHISPER_KEY]).open(new, whisper_id=WID, recipient_id=3)
    # Relabelled to the other key's id, it does not open (the key id is associated data).
    _, new_id, _ = new.split(".")
    body = old.split(".")[2]
    with pytest.raises(SealBroken):
        rotated.open(f"w1.{new_id}.{body}", whisper_id=WID, recipient_id=3)


def test_the_setting_is_comma_separated_base64_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    other = base64.b64encode(OTHER_WHISPER_KEY).decode()
    settings = Settings(_env_file=None, whisper_keys=f"{other}, {WHISPER_KEYS}")
    seal = whisper_seal(settings)
    assert seal is not None
    sealed = WhisperSeal([WHISPER_KEY]).seal(TEXT, whisper_id=WID, recipient_id=3)
    assert seal.open(sealed, whisper_id=WID, recipient_id=3) == TEXT
    assert whisper_seal(Settings(_env_file=None)) is None

    monkeypatch.setenv("WHISPER_KEYS", "bm90IGEga2V5")  # "not a key"
    with pytest.raises(SystemExit, match=r"WHISPER_KEYS: .*key 1 decodes to 9 bytes"):
        load_settings(_env_file=None)


def test_make_run_generates_a_whisper_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    env: dict[str, str] = {}
    path = ensure_whisper_key(settings, env)
    assert path == tmp_path / "whisper.key" and path.stat().st_mode & 0o777 == 0o600
    seal = whisper_seal(Settings(_env_file=None, whisper_keys=env["WHISPER_KEYS"]))
    assert seal is not None
    again: dict[str, str] = {}
    ensure_whisper_key(settings, again)
    assert again == env  # the same key on every run: unread whispers stay readable
    # A key already configured is used as it is, and nothing is written.
    assert (
        ensure_whisper_key(Settings(_env_file=None, data_dir=tmp_path / "x", whisper_keys=WHISPER_KEYS), {})
        is None
    )
    assert not (tmp_path / "x").exists()
