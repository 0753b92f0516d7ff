"""Every command's bad input ends in one line on stderr and status 2."""

from __future__ import annotations

import pytest

from entro_net.cli.main import main


def _fail(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    "argv",
    [
        ("up", "--nodes"),
        ("up", "--bogus-flag-value-x", "--steps", "3"),
        ("coordinator", "--port", "x"),
        ("node", "--index", "x"),
        ("health", "--timeout", "x"),
        ("experiment", "sweep", "--steps", "x"),
    ],
)
def test_a_usage_error_is_one_line_with_a_help_hint(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    err = _fail(capsys, *argv)

    assert "error:" in err
    assert "--help)" in err
    assert "usage:" not in err


def test_a_value_that_starts_with_a_minus_is_a_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["up", "--gamma", "-inf", "--steps", "3"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("entro-net: error: --gamma:"), err
    assert "expected one argument" not in err


def test_a_bad_network_setting_names_its_flag_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["up", "--staleness", "0", "--steps", "3"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("entro-net: error: --staleness: "), err
