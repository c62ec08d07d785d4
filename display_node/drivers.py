"""Display devices behind one small `Panel` API: the real MAX7219 chain and luma's emulators.

Every driver is a luma device, so rotation and 8x8 block handling behave the same on a laptop as on the Pi.
Hardware trouble becomes a `HardwareError` whose message is one sentence naming the fix.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import shutil
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from display_node.config import DisplaySettings
from display_node.render import pixels

log = logging.getLogger("fdc.display")
TERMINAL_FOOTER = 5  # lines under the terminal drawing: status, then the latest log lines


class HardwareError(Exception):
    """The display cannot be driven; the message says what to do about it (shown instead of a traceback)."""


def contrast_for(level: int) -> int:
    """Brightness 0..15 → luma contrast 0..255. The MAX7219 keeps the top 4 bits, so level N reaches it as N."""
    return max(0, min(15, level)) * 17


class Panel:
    """One luma device plus what the node needs: show a frame, brightness, on/off, and a clean exit."""

    terminal: Terminal | None = None  # the terminal driver's drawing, for its footer (status and log lines)

    def __init__(self, device: Any, name: str, after_show: Callable[[Image.Image], None] | None = None) -> None:
        self.device = device
        self.name = name
        self.frames = 0
        self._after_show = after_show
        self._on = True

    @property
    def size(self) -> tuple[int, int]:
        """The logical canvas (width, height) after `rotate`, which is what the renderer draws."""
        return int(self.device.width), int(self.device.height)

    def size_for(self, value: int | None) -> tuple[int, int]:
        """The canvas for drawing `value`: a chain of LEDs has one size; the web page and the AWTRIX clock
        widen theirs to fit the number (display_node/web.py, display_node/awtrix.py)."""
        return self.size

    def show(self, image: Image.Image) -> None:
        with warnings.catch_warnings():
            # Pillow 13 deprecates Image.getdata, which luma's max7219.display() still calls.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.device.display(image.convert(self.device.mode))
        self.frames += 1
        if self._after_show is not None:
            self._after_show(image)

    def set_brightness(self, level: int) -> None:
        self.device.contrast(contrast_for(level))

    def power(self, on: bool) -> None:
        """Off puts the MAX7219s into shutdown (LEDs dark, contents kept); on wakes them."""
        if on != self._on:
            self._on = on
            if on:
                self.device.show()
            else:
                self.device.hide()

    def close(self, persist: bool) -> None:
        """`persist` leaves the last frame lit after the process exits (luma's `device.persist`)."""
        self.device.persist = persist
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.device.cleanup()
        write_gif = getattr(self.device, "write_animation", None)
        if write_gif is not None:  # the gif driver assembles its file now rather than at interpreter exit
            write_gif()
            self.device._images.clear()


def max7219_device(settings: DisplaySettings, serial: Any) -> Any:
    """The luma device for a MAX7219 chain; `block_orientation` and chip order belong here, not on `spi()`."""
    from luma.led_matrix.device import max7219

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return max7219(
            serial,
            cascaded=settings.cascaded,
            block_orientation=settings.block_orientation,
            rotate=settings.rotate,
            blocks_arranged_in_reverse_order=settings.reverse_order,
            contrast=contrast_for(settings.brightness),
        )


def open_spi(settings: DisplaySettings, spidev: Any = None) -> Any:
    """luma's spi interface with a no-op GPIO (the MAX7219 needs no D/C or reset line)."""
    from luma.core.error import DeviceNotFoundError, DevicePermissionError, UnsupportedPlatform
    from luma.core.interface.serial import noop, spi

    dev = f"/dev/spidev{settings.spi_port}.{settings.spi_device}"
    if spidev is None:
        try:
            spidev_module: Any = importlib.import_module("spidev")
        except ImportError:
            raise HardwareError(
                "the Python package 'spidev' is missing, so the MAX7219 cannot be driven: on the Pi run "
                "pip install './[pi]' in a checkout of this repository, with the node's virtualenv (or use "
                "--driver terminal/capture on other machines)"
            ) from None
        spidev = spidev_module.SpiDev()
    enable = "enable SPI with `sudo raspi-config nonint do_spi 0` (Interface Options → SPI) and reboot"
    groups = "add the user to the spi and gpio groups (`sudo usermod -aG spi,gpio $USER`) and log in again"
    try:
        return spi(
            spi=spidev,
            gpio=noop(),
            port=settings.spi_port,
            device=settings.spi_device,
            bus_speed_hz=settings.bus_speed_hz,
        )
    except DeviceNotFoundError:
        raise HardwareError(f"{dev} does not exist: {enable}") from None
    except (DevicePermissionError, PermissionError):
        raise HardwareError(f"permission denied on {dev}: {groups}") from None
    except UnsupportedPlatform:
        raise HardwareError(f"GPIO access is not available on this machine: {enable}, and {groups}") from None
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            raise HardwareError(f"permission denied on {dev}: {groups}") from None
        raise HardwareError(f"cannot open {dev} ({e.strerror}): {enable}") from None


EMULATOR_HINT = (
    "the {kind} driver needs luma.emulator and pygame, which the package's [emulator] extra installs: in the "
    "checkout run `.venv/bin/pip install -e '.[emulator]'` (make venv does), or use --driver terminal"
)


def has_desktop(environ: dict[str, str] | None = None) -> bool:
    """A window can open: an X11 or Wayland session, or SDL told explicitly where to draw (e.g. dummy)."""
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"))


def _emulator(kind: str, settings: DisplaySettings, **extra: Any) -> Any:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    if kind == "pygame" and not has_desktop():
        # pygame would fall back to an invisible off-screen window without a word
        raise HardwareError(
            "the pygame driver opens a window, and there is no desktop here (neither DISPLAY nor WAYLAND_DISPLAY "
            "is set): use --driver terminal to draw the matrix in this terminal, or --driver capture for PNG frames"
        )
    try:
        from luma.emulator import device as emu
    except ImportError:
        raise HardwareError(EMULATOR_HINT.format(kind=kind)) from None
    cls = {"capture": emu.capture, "gif": emu.gifanim, "pygame": emu.pygame}[kind]
    size = {"width": 8 * settings.cascaded, "height": 8, "rotate": settings.rotate, "mode": "1"}
    try:
        return cls(**size, transform="led_matrix", scale=2, **extra)
    except Exception as e:  # pygame raises its own error types for "no display"
        raise HardwareError(f"the {kind} emulator could not start ({e}): try --driver capture or terminal") from None


def _capture_dir(settings: DisplaySettings) -> Path:
    path = settings.capture_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        msg = f"cannot create display.capture_dir {str(path)!r} ({e.strerror}): pick another folder"
        raise HardwareError(msg) from None
    return path


class Terminal:
    """The matrix as text. On a terminal: block characters redrawn in place (luma's own terminal emulators
    need curses), with `footer` lines under them that belong to the drawing too (status and the latest log
    lines), so nothing else ever writes into it. Piped or redirected: each frame as plain `#`/`.` rows, so
    logs and `fdc demo` stay readable."""

    def __init__(self, stream: Any, tty: bool = True, footer: int = 0) -> None:
        self.stream = stream
        self.tty = tty
        self.drawn = 0
        self.footer_size = footer if tty else 0
        self.status: list[str] = []
        self.logs: list[str] = []
        self.rows: list[str] = []
        self.lock = threading.RLock()

    def __call__(self, image: Image.Image) -> None:
        with self.lock:
            self.rows = pixels(image)
            self._draw()

    def set_status(self, lines: list[str]) -> None:
        """Lines shown under the matrix (e.g. `fdc demo`'s "why the matrix shows ---")."""
        with self.lock:
            if lines != self.status and self.footer_size:
                self.status = list(lines)
                self._draw()

    def add_log(self, line: str) -> None:
        if not self.footer_size:
            return
        with self.lock:
            self.logs = [*self.logs, *line.splitlines()][-self.footer_size :]
            self._draw()

    def _footer(self) -> list[str]:
        lines = (self.status + self.logs)[-self.footer_size :] if self.footer_size else []
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)  # never wrap: the cursor maths counts lines
        return [line[:width] for line in lines] + [""] * (self.footer_size - len(lines))

    def _draw(self) -> None:
        if not self.rows:
            return
        if not self.tty:
            self.stream.write("\n".join(self.rows) + "\n\n")
        else:
            up = f"\x1b[{self.drawn}F" if self.drawn else ""
            matrix = [r.replace("#", "█").replace(".", "·") for r in self.rows]
            lines = matrix + self._footer()
            self.stream.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
            self.drawn = len(lines)
        self.stream.flush()


class TerminalLog(logging.Handler):
    """Log records into the terminal drawing's footer instead of across it."""

    def __init__(self, term: Terminal) -> None:
        super().__init__()
        self.term = term

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.term.add_log(self.format(record))
        except Exception:
            self.handleError(record)


def open_panel(settings: DisplaySettings, *, serial: Any = None, spidev: Any = None) -> Panel:
    """The driver `settings.driver` names. `serial`/`spidev` stand in for the SPI bus in tests."""
    name = settings.driver
    if name == "max7219":
        return Panel(max7219_device(settings, serial or open_spi(settings, spidev)), name)
    if name in ("dummy", "terminal"):
        from luma.core.device import dummy

        device = dummy(width=8 * settings.cascaded, height=8, rotate=settings.rotate, mode="1")
        if name == "dummy":
            return Panel(device, name)
        tty = sys.stdout.isatty()
        if not tty:
            log.warning(
                "standard output is not a terminal, so the terminal driver prints each frame as plain # and . rows; "
                "use --driver capture to get PNG frames instead"
            )
        term = Terminal(sys.stdout, tty, footer=TERMINAL_FOOTER)
        panel = Panel(device, name, after_show=lambda _image: term(device.image))
        panel.terminal = term
        return panel
    if name == "capture":
        folder = _capture_dir(settings)
        return Panel(_emulator("capture", settings, file_template=str(folder / "frame_{0:06}.png")), name)
    if name == "gif":
        folder = _capture_dir(settings)
        return Panel(_emulator("gif", settings, filename=str(folder / "fdc.gif"), duration=0.5), name)
    if name == "pygame":
        return Panel(_emulator("pygame", settings, frame_rate=30), name)
    if name == "awtrix":
        from display_node.awtrix import AwtrixPanel

        if settings.awtrix is None:
            raise HardwareError("the awtrix driver needs display.awtrix: {prefix: <the clock's MQTT prefix>}")
        return AwtrixPanel(settings.awtrix)
    raise HardwareError(f"unknown display driver {name!r}")
