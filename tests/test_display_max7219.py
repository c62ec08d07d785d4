"""luma's real max7219 driver, fed a recording SPI bus: the bytes it sends must light exactly the rendered frame."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from luma.core.error import UnsupportedPlatform

from display_node.config import DisplaySettings
from display_node.drivers import HardwareError, Panel, open_panel
from display_node.render import pixels, render
from tests.display_spi import Chain, RecordingSerial
from tests.run_fdc import fdc_command

ROOT = Path(__file__).resolve().parents[1]


def panel(serial: RecordingSerial, **kw: Any) -> Panel:
    return open_panel(DisplaySettings(driver="max7219", **kw), serial=serial)


@pytest.mark.parametrize("value", [42, 7, 1234, None])
def test_fc16_four_blocks_light_exactly_the_rendered_frame(value: int | None) -> None:
    serial = RecordingSerial()
    p = panel(serial, cascaded=4, block_orientation=-90)
    frame = render(value, *p.size)
    p.show(frame)
    assert Chain(4).feed(serial).lit("fc16") == pixels(frame)
    assert serial.commands == []


def test_fc16_chain_wired_from_the_right_with_reverse_order() -> None:
    serial = RecordingSerial()
    p = panel(serial, cascaded=2, block_orientation=-90, reverse_order=True)
    frame = render(42, 16)
    p.show(frame)
    assert Chain(2).feed(serial).lit("fc16", reverse=True) == pixels(frame)
    # the same bytes read as a left-wired chain would show the blocks swapped: the option really matters
    assert Chain(2).feed(serial).lit("fc16") != pixels(frame)


def test_generic_modules_with_orientation_0() -> None:
    serial = RecordingSerial()
    p = panel(serial, cascaded=2, block_orientation=0)
    frame = render(42, 16, stale_mark=True)
    p.show(frame)
    assert Chain(2).feed(serial).lit("generic") == pixels(frame)


def test_rotate_2_turns_the_whole_matrix_upside_down() -> None:
    serial = RecordingSerial()
    p = panel(serial, cascaded=2, block_orientation=-90, rotate=2)
    frame = render(42, 16)
    p.show(frame)
    upside_down = [row[::-1] for row in reversed(pixels(frame))]
    assert Chain(2).feed(serial).lit("fc16") == upside_down


def test_brightness_reaches_every_chip_as_a_level_0_to_15() -> None:
    serial = RecordingSerial()
    p = panel(serial, cascaded=3, brightness=5)
    chain = Chain(3).feed(serial)
    assert [c.intensity for c in chain.chips] == [5, 5, 5]
    for level in (0, 15, 9):
        p.set_brightness(level)
        assert [c.intensity for c in Chain(3).feed(serial).chips] == [level] * 3


def test_power_off_and_on_uses_shutdown_and_keeps_the_frame() -> None:
    serial = RecordingSerial()
    p = panel(serial, cascaded=2)
    frame = render(3, 16)
    p.show(frame)
    p.power(False)
    assert Chain(2).feed(serial).lit("generic") == ["." * 16] * 8
    p.power(True)
    assert Chain(2).feed(serial).lit("generic") == pixels(frame)


@pytest.mark.parametrize("persist", [True, False])
def test_exit_keeps_the_number_lit_only_with_persist(persist: bool) -> None:
    serial = RecordingSerial()
    p = panel(serial, cascaded=2)
    frame = render(8, 16)
    p.show(frame)
    p.close(persist)
    assert serial.cleaned_up
    assert Chain(2).feed(serial).lit("generic") == (pixels(frame) if persist else ["." * 16] * 8)


class FailingSpiDev:
    """A spidev stand-in whose open() fails the way the kernel (or luma on a non-Pi board) does."""

    def __init__(self, err: int) -> None:
        self.err = err

    def open(self, port: int, device: int) -> None:
        if self.err == -1:
            raise UnsupportedPlatform("GPIO access not available")
        raise OSError(self.err, os.strerror(self.err))


@pytest.mark.parametrize(
    ("err", "words"),
    [
        (errno.ENOENT, ["/dev/spidev0.1 does not exist", "raspi-config"]),
        (errno.EACCES, ["permission denied on /dev/spidev0.1", "spi and gpio groups"]),
        (-1, ["GPIO access is not available", "raspi-config", "spi and gpio groups"]),
    ],
)
def test_spi_problems_become_one_sentence_naming_the_fix(err: int, words: list[str]) -> None:
    settings = DisplaySettings(driver="max7219", spi_device=1)
    with pytest.raises(HardwareError) as info:
        open_panel(settings, spidev=FailingSpiDev(err))
    assert all(w in str(info.value) for w in words)


def test_fdc_display_without_spi_exits_2_with_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "display.yaml"
    cfg.write_text("node_id: pi-test\ndisplay: {driver: max7219}\nmqtt: {host: 127.0.0.1, port: 1}\n")
    res = subprocess.run(
        fdc_command("display", "-c", str(cfg)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    # this machine has no spidev package (or, on a Pi without SPI enabled, no /dev/spidev0.0)
    assert "spidev" in res.stderr
    assert res.stderr.startswith("fdc display: ")
