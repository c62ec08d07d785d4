"""The emulator drivers write what the renderer drew: capture PNGs, the GIF, the terminal blocks, rotation."""

from __future__ import annotations

import io
import os
import runpy
from pathlib import Path

import pytest
from PIL import Image

from common import __version__
from display_node.config import DisplaySettings
from display_node.drivers import EMULATOR_HINT, HardwareError, Terminal, contrast_for, open_panel
from display_node.render import pixels, render
from tests.display_helpers import frames, latest_frame, lit
from tests.run_fdc import run_fdc


def test_capture_writes_one_png_per_frame_that_decodes_to_the_frame(tmp_path: Path) -> None:
    panel = open_panel(DisplaySettings(driver="capture", cascaded=4, capture_dir=tmp_path / "new" / "dir"))
    assert panel.size == (32, 8)
    panel.show(render(1234, 32))
    panel.show(render(None, 32, stale_mark=True))
    written = frames(tmp_path / "new" / "dir")
    assert [p.name for p in written] == ["frame_000001.png", "frame_000002.png"]
    with Image.open(written[0]) as first:
        assert lit(first) == pixels(render(1234, 32))
    assert latest_frame(tmp_path / "new" / "dir") == pixels(render(None, 32, stale_mark=True))


def test_capture_with_rotate_2_writes_the_matrix_upside_down(tmp_path: Path) -> None:
    panel = open_panel(DisplaySettings(driver="capture", cascaded=2, rotate=2, capture_dir=tmp_path))
    frame = render(42, 16)
    panel.show(frame)
    assert latest_frame(tmp_path) == [row[::-1] for row in reversed(pixels(frame))]


def test_gif_is_assembled_on_close(tmp_path: Path) -> None:
    panel = open_panel(DisplaySettings(driver="gif", cascaded=2, capture_dir=tmp_path))
    for v in (1, 2, 3):
        panel.show(render(v, 16))
    panel.close(persist=True)
    with Image.open(tmp_path / "fdc.gif") as gif:
        assert gif.n_frames == 3
        gif.seek(2)
        assert lit(gif) == pixels(render(3, 16))


def test_terminal_draws_blocks_and_redraws_in_place() -> None:
    out = io.StringIO()
    term = Terminal(out, footer=2)
    term(render(7, 8))
    term.set_status(["publisher error: Bamboo refused the token"])
    term(render(8, 8))
    first, _status, second = out.getvalue().split("\x1b[10F")
    assert first.splitlines()[0] == "\x1b[2K··██████"
    assert second.splitlines()[8:] == ["\x1b[2Kpublisher error: Bamboo refused the token", "\x1b[2K"]
    assert len(second.splitlines()) == 10
    plain = io.StringIO()
    Terminal(plain, tty=False)(render(7, 8))
    assert plain.getvalue() == "\n".join(pixels(render(7, 8))) + "\n\n"


def test_contrast_levels_map_onto_the_chip_s_16_steps() -> None:
    assert [contrast_for(n) >> 4 for n in range(16)] == list(range(16))
    assert contrast_for(15) == 255


def test_readme_pictures_are_what_the_capture_driver_draws_today(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    make = runpy.run_path(str(root / "scripts" / "make_pictures.py"), run_name="pictures")["main"]
    assert make(tmp_path) == 0
    for fresh in sorted(tmp_path.glob("*.png")):
        with Image.open(fresh) as new, Image.open(root / "docs" / "img" / fresh.name) as committed:
            assert lit(new) == lit(committed), f"docs/img/{fresh.name} is out of date: run scripts/make_pictures.py"


def test_systemd_unit_runs_unprivileged_in_the_spi_and_gpio_groups() -> None:
    unit = Path(__file__).resolve().parents[1] / "deploy" / "systemd" / "fdc-display.service"
    keys: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys[key] = value
    assert keys["ExecStart"].endswith("fdc display -c /etc/fdc/display.yaml")
    assert keys["User"] not in ("", "root")
    assert set(keys["SupplementaryGroups"].split()) == {"spi", "gpio"}
    assert keys["Restart"] == "on-failure"
    assert "PrivateDevices" not in keys  # it would hide /dev/spidev*


def test_pygame_window_shows_the_leds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # an off-screen window: no desktop needed
    panel = open_panel(DisplaySettings(driver="pygame", cascaded=2))
    try:
        frame = render(42, 16)
        panel.show(frame)
        surface = panel.device._screen
        size = surface.get_size()
        raw = Image.frombytes("RGB", size, panel.device._pygame.image.tostring(surface, "RGB"))
        assert lit(raw) == pixels(frame)
    finally:
        panel.device._pygame.quit()


def test_pygame_without_a_desktop_says_so_and_names_the_other_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(HardwareError) as info:
        open_panel(DisplaySettings(driver="pygame", cascaded=2))
    text = str(info.value)
    assert "no desktop here (neither DISPLAY nor WAYLAND_DISPLAY is set)" in text
    assert "--driver terminal" in text and "--driver capture" in text


def test_fdc_display_with_pygame_and_no_desktop_exits_2_with_the_sentence(tmp_path: Path) -> None:
    cfg = tmp_path / "display.yaml"
    cfg.write_text("node_id: lab\ndisplay: {driver: pygame}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    r = run_fdc("display", "-c", str(cfg), env=env, timeout=30)
    assert r.returncode == 2
    assert r.stderr.startswith("fdc display: the pygame driver opens a window, and there is no desktop here")


def test_the_emulator_install_hint_points_at_the_checkout() -> None:
    assert "`.venv/bin/pip install -e '.[emulator]'`" in EMULATOR_HINT.format(kind="capture")


def test_version_flag_and_dry_run_help() -> None:
    assert run_fdc("-V").stdout.strip() == run_fdc("--version").stdout.strip() == f"fdc {__version__}"
    help_text = " ".join(run_fdc("publisher", "--help", env={**os.environ, "COLUMNS": "200"}).stdout.split())
    assert (
        "--dry-run with --once: poll once and print the number and the deployment that set it; publishes nothing "
        "on MQTT and leaves the state file untouched" in help_text
    )


def test_make_clean_removes_every_cache(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    clean = next(line for line in (root / "Makefile").read_text().split("\nclean:\n")[1].splitlines() if line)
    for folder in (".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".venv"):
        assert folder in clean.replace("$(VENV)", ".venv").split()
